"""The whole stack under test: every service as a process on one broker, read models on a Postgres server of
the suite's own (so the Postgres fault stops nobody else's database), and the execution log the agents write.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from shared.bus.bootstrap import admin_client
from shared.bus.producer import EventProducer
from shared.bus.topics import GOALS_COMMANDS
from shared.db.connection import connect
from shared.db.schema import migrate
from shared.infra import postgres_server
from shared.infra.background_process import log_tail
from shared.infra.kafka_broker import LocalKafka
from shared.infra.stack import CORE_SERVICES, LocalStack, ServiceSpec
from shared.settings import Settings
from tests.faults.fleet import agent_ids, write_stack_files
from tests.faults.workload import Workload, wait_until

#: Every service of the stack that reads a topic (the gateway only publishes commands and reads Postgres).
SERVICES = (*CORE_SERVICES, "drift_monitor", "agent_runtime")
STARTUP_TIMEOUT_S = 180.0


@dataclass
class FaultStack:
    stack: LocalStack
    settings: Settings
    kafka: LocalKafka
    postgres_name: str
    admin_url: str
    read_models: str
    producer: EventProducer
    execution_log: Path
    tag: str
    saga_definition: str
    supervised: bool = False
    """Restart a service that exited, as compose (restart: unless-stopped) or Kubernetes would."""
    restarted: list[str] = field(default_factory=list)

    @property
    def runtime_group(self) -> str:
        return f"architect-agent-runtime-faults-{self.tag}"

    def workload(self) -> Workload:
        return Workload(self.settings, self.saga_definition, self.tag)

    def alive(self) -> None:
        if self.supervised:
            for name in self.stack.exited():
                self.restarted.append(name)
                self.stack.restart(name)
        self.stack.check()

    def wait_finished(self, workload: Workload, timeout_s: float) -> None:
        """Every goal and saga of ``workload`` in a terminal state in the read models."""
        wait_until(
            "every goal and saga to end",
            lambda: not workload.unfinished(self.read_models),
            timeout_s,
            alive=self.alive,
        )

    def restart_postgres(self, down_s: float) -> None:
        postgres_server.stop(self.postgres_name)
        time.sleep(down_s)
        postgres_server.start(self.postgres_name)

    def fresh_database(self, prefix: str) -> tuple[str, str]:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        return name, postgres_server.fresh_database(self.admin_url, name)

    def drop_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def log_tails(self, lines: int = 30) -> str:
        return "\n".join(
            f"----- {name} -----\n{log_tail(self.stack.log_dir / f'{name}.log', lines)}" for name in self.stack.names()
        )


def partitions_of(settings: Settings, topic: str) -> int:
    metadata = admin_client(settings).list_topics(topic, timeout=30)
    return len(metadata.topics[topic].partitions)


def start_fault_stack(
    settings: Settings,
    kafka: LocalKafka,
    postgres_name: str,
    directory: Path,
    *,
    services: Iterable[str] = SERVICES,
    extra_env: dict[str, str] | None = None,
) -> FaultStack:
    """Start every service on ``settings``' broker with read models in a fresh database of ``postgres_name``,
    and wait until the agents registered and one goal and one saga went through."""
    tag = uuid.uuid4().hex[:6]
    saga_name = f"order_{tag}"
    fleet_file, env = write_stack_files(directory, tag, saga_name, partitions_of(settings, GOALS_COMMANDS))
    admin_url = postgres_server.start(postgres_name)
    read_models = postgres_server.fresh_database(admin_url, f"faults_{tag}")
    with connect(read_models) as conn:
        migrate(conn)
    stack = LocalStack(
        settings.kafka_bootstrap_servers, read_models, directory / "logs", extra_env=env | (extra_env or {})
    )
    specs = [
        ServiceSpec("agent_runtime", ("--config", str(fleet_file))) if name == "agent_runtime" else ServiceSpec(name)
        for name in services
    ]
    producer = EventProducer(settings, client_id="fault-tests")
    faults = FaultStack(
        stack,
        settings,
        kafka,
        postgres_name,
        admin_url,
        read_models,
        producer,
        directory / "executions.jsonl",
        tag,
        saga_name,
    )
    stack.start_all(specs)
    try:
        wait_until(
            "the agents to register",
            lambda: (
                len(faults_query(read_models, "SELECT agent_id FROM agents WHERE agent_id = ANY(%s)", agent_ids(tag)))
                == 2
            ),
            STARTUP_TIMEOUT_S,
            alive=faults.alive,
        )
        warm_up = faults.workload()
        warm_up.burst(producer, goals=1, sagas=1)
        faults.wait_finished(warm_up, STARTUP_TIMEOUT_S)
        assert not warm_up.wrong_outcomes(read_models), warm_up.wrong_outcomes(read_models)
    except BaseException:
        print(faults.log_tails())
        stop_fault_stack(faults)
        raise
    return faults


def stop_fault_stack(faults: FaultStack) -> dict[str, int | None]:
    codes = faults.stack.stop()
    faults.producer.close()
    return codes


def faults_query(url: str, sql: str, *args: object) -> list[tuple[object, ...]]:
    try:
        with connect(url) as conn:
            return conn.execute(sql, args).fetchall()
    except Exception:
        return []
