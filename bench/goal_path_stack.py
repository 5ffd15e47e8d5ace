"""The whole goal path as processes, for the goal-path benchmarks, and a watch over the task events it writes.

``goal_path_stack()`` starts a broker of its own ("bench-e2e" on 127.0.0.1:19492, clean storage, stopped and
deleted afterwards), a fresh ``bench_e2e`` database on the embedded Postgres "bench-goalpath" (its own, clear
of test sessions' servers; reused, never stopped), the catalogue's topics, then scheduler, assigner,
orchestrator, projector and an agent runtime hosting ``bench/fleets/zero_latency.yaml`` (20 scripted agents of
zero latency). The orchestrator loads the ``bench_noop_goal`` method (five independent no-op tasks) from
``bench/methods``.

Topics get ``partitions`` partitions each (the goal-path benchmarks pass ``--partitions``, 1 by default; the
catalogue's default is ``Settings().topic_partitions``, 6). Partitions bound how many instances of a service can
share its work; on one broker with one instance of each service they add requests and no parallelism.
librdkafka sends one produce request per partition (confluentinc/librdkafka#1700), each transactional one is
verified by the broker on its own (KIP-890), and every partition has its fetch-session and faust bookkeeping, so
6 partitions cost this stack about twice the CPU per task of 1 (``bench/results/goal_path.md``).

``TaskWatch`` reads ``architect.tasks.events`` and keeps, per task, the ``occurred_at`` of its TaskCreated,
TaskAssigned, TaskStarted and TaskSucceeded events, which is what both benchmarks measure, and the Kafka
timestamp of its TaskCreated record (when the orchestrator handed it to its producer).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psutil
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient

from shared.bus.bootstrap import ensure_topics
from shared.bus.client_config import kafka_config
from shared.bus.consumer import BACKGROUND_FETCH
from shared.bus.producer import EventProducer
from shared.bus.topics import GOALS_EVENTS, TASKS_EVENTS
from shared.db.connection import connect
from shared.db.schema import migrate
from shared.events.catalogue.goals import SubmitGoal
from shared.events.codec import new_event
from shared.infra import postgres_server
from shared.infra.kafka_broker import LocalKafka
from shared.infra.stack import CORE_SERVICES, LocalStack, ServiceFailed, ServiceSpec
from shared.settings import Settings

BENCH_DIR = Path(__file__).resolve().parent
FLEET_FILE = BENCH_DIR / "fleets" / "zero_latency.yaml"
METHODS_DIR = BENCH_DIR / "methods"
GOAL_TYPE = "bench_noop_goal"
TASKS_PER_GOAL = 5
FLEET_SIZE = 20
KAFKA_NAME = "bench-e2e"
KAFKA_PORT = 19492
POSTGRES_NAME = "bench-goalpath"
DATABASE = "bench_e2e"
ORCHESTRATOR = "orchestrator"
ORCHESTRATOR_GROUP = "architect-orchestrator"
#: How a goal ends: while none of these came, it is open.
GOAL_ENDINGS = ("GoalCompleted", "GoalFailed", "GoalCancelled")
#: The events the watch keeps (the records of other types it skips by their type header, undecoded).
WATCHED = frozenset({"TaskCreated", "TaskAssigned", "TaskStarted", "TaskSucceeded", *GOAL_ENDINGS})
WATCHED_TYPES = frozenset(kind.encode() for kind in WATCHED)
#: Partitions per topic of the goal-path benchmarks: one broker, one instance of each service.
BENCH_PARTITIONS = 1


def add_partitions_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--partitions",
        type=int,
        default=BENCH_PARTITIONS,
        help=f"partitions per topic (default {BENCH_PARTITIONS}: one instance of each service; the catalogue's is 6)",
    )


def say(message: str) -> None:
    """A status line on stderr (stdout carries only results)."""
    print(message, file=sys.stderr, flush=True)


@dataclass
class GoalPathStack:
    """A running stack: its settings, services and the processes whose CPU the benchmarks report."""

    settings: Settings
    services: LocalStack
    kafka: LocalKafka
    log_dir: Path
    database: str = DATABASE

    def processes(self) -> dict[str, psutil.Process]:
        """Each service's process, the broker's JVM and the Postgres backends serving the bench database."""
        found = {name: psutil.Process(proc.pid) for name, proc in self.services._procs.items()}
        for status in self.kafka.status():
            if status.pid is not None:
                found["kafka"] = psutil.Process(status.pid)
        backends = (p for p in psutil.process_iter(["cmdline"]) if _serves_database(p, self.database))
        for number, process in enumerate(backends):
            found[f"postgres-{number}"] = process
        return found

    def check(self) -> None:
        self.services.check()


def _serves_database(process: psutil.Process, database: str) -> bool:
    """A Postgres backend connected to ``database`` (its title reads ``postgres: user bench_e2e ...``)."""
    title = " ".join(process.info.get("cmdline") or [])
    return title.startswith("postgres:") and f" {database} " in title


@contextmanager
def goal_path_stack(
    log_dir: Path | None = None,
    extra_env: dict[str, str] | None = None,
    *,
    kafka_name: str = KAFKA_NAME,
    kafka_port: int = KAFKA_PORT,
    database: str = DATABASE,
    extra_services: tuple[ServiceSpec, ...] = (),
    partitions: int | None = None,
) -> Iterator[GoalPathStack]:
    """Broker, database, topics and every service of the goal path, up and with the fleet registered.

    ``kafka_name``/``kafka_port``/``database`` let another benchmark run beside this one; ``extra_services``
    start after the orchestrator (e.g. the drift monitor); ``partitions`` per topic (None: the settings'
    default)."""
    kafka = LocalKafka(kafka_name, kafka_port)
    if kafka.is_running():
        say(f"stopping {kafka!r}, left running by an earlier run, to start it with clean storage")
        kafka.stop()
    say(f"starting a broker of its own ({kafka_name} on 127.0.0.1:{kafka_port}) with clean storage ...")
    bootstrap = kafka.start(clean=True)
    services: LocalStack | None = None
    postgres_started_here = postgres_server.running_url(POSTGRES_NAME) is None
    try:
        admin_url = postgres_server.start(POSTGRES_NAME)
        database_url = postgres_server.fresh_database(admin_url, database)
        with connect(database_url) as conn:
            migrate(conn)
        data_dir = Path(log_dir or Path("/tmp") / f"bench-e2e-{uuid.uuid4().hex[:6]}")
        settings = Settings(kafka_bootstrap_servers=bootstrap, database_url=database_url, data_dir=data_dir / "data")
        if partitions is not None:
            settings = settings.model_copy(update={"topic_partitions": partitions})
        create_topics(settings)
        env = {
            "ARCHITECT_TOPIC_PARTITIONS": str(settings.topic_partitions),
            "ARCHITECT_ORCHESTRATOR_METHODS_DIR": str(METHODS_DIR),
            "ARCHITECT_DATA_DIR": str(settings.data_dir),
            "ARCHITECT_LOG_LEVEL": "WARNING",
            "OTEL_TRACES_EXPORTER": "none",
        } | (extra_env or {})
        services = LocalStack(bootstrap, database_url, data_dir / "logs", extra_env=env)
        # The faust orchestrator last, on a broker whose group coordinator is loaded: started together with
        # the others on a just-started broker it sometimes never joined its group.
        confluent_services = [name for name in CORE_SERVICES if name != ORCHESTRATOR]
        services.start_all([*confluent_services, ServiceSpec("agent_runtime", ("--config", str(FLEET_FILE)))])
        stack = GoalPathStack(settings, services, kafka, data_dir, database)
        wait_for_fleet(stack)
        services.start(ORCHESTRATOR)
        wait_for_orchestrator(stack)
        services.start_all(extra_services)
        say(f"services running: {', '.join(services.names())} (logs in {services.log_dir})")
        say(f"topics: {settings.topic_partitions} partition(s) each")
        yield stack
    finally:
        if services is not None:
            codes = services.stop()
            say("stopped " + ", ".join(f"{name} ({code})" for name, code in codes.items()))
        say(f"stopping {kafka!r}")
        kafka.stop()
        kafka.clean()
        if postgres_started_here:  # one left running by another benchmark beside this one stays up for it
            say(f"stopping the embedded Postgres {POSTGRES_NAME!r}")
            postgres_server.stop(POSTGRES_NAME)


def create_topics(settings: Settings, attempts: int = 5) -> None:
    """The catalogue's topics; retried while a just-started broker's metadata does not list them all yet."""
    for attempt in range(1, attempts + 1):
        try:
            ensure_topics(settings)
            return
        except KeyError:
            if attempt == attempts:
                raise
            time.sleep(1)


def orchestrator_members(settings: Settings) -> int:
    """Members of the orchestrator's consumer group that hold partitions."""
    admin = AdminClient(kafka_config(settings))
    description = admin.describe_consumer_groups([ORCHESTRATOR_GROUP])[ORCHESTRATOR_GROUP].result(10)
    return sum(1 for member in description.members if member.assignment.topic_partitions)


def wait_for_orchestrator(stack: GoalPathStack, timeout_s: float = 60.0, attempts: int = 3) -> None:
    """Until the orchestrator holds its partitions; a start that never joins its group is restarted."""
    for attempt in range(1, attempts + 1):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            stack.check()
            if orchestrator_members(stack.settings) > 0:
                say("orchestrator joined its consumer group")
                return
            time.sleep(1)
        say(f"orchestrator did not join its group within {timeout_s:.0f}s (start {attempt}); restarting it")
        stack.services.kill(ORCHESTRATOR)
        stack.services.restart(ORCHESTRATOR)
    raise ServiceFailed(f"the orchestrator never joined its consumer group; see {stack.log_dir}")


def wait_for_fleet(stack: GoalPathStack, timeout_s: float = 120.0) -> None:
    """Until the projector shows every agent of the fleet registered (so the assigner knows them too)."""
    deadline = time.monotonic() + timeout_s
    registered = 0
    while time.monotonic() < deadline:
        stack.check()
        try:
            with connect(stack.settings.database_url) as conn:
                row = conn.execute("SELECT count(*) FROM agents WHERE status IN ('registered', 'alive')").fetchone()
                registered = int(row[0]) if row else 0
        except Exception:
            registered = 0
        if registered >= FLEET_SIZE:
            say(f"fleet registered: {registered} agents")
            return
        time.sleep(1)
    raise ServiceFailed(f"only {registered}/{FLEET_SIZE} agents registered within {timeout_s:.0f}s")


class GoalSubmitter:
    """Publishes SubmitGoal commands for ``bench_noop_goal`` with ids ``<run>-<n>``, as the gateway would."""

    def __init__(self, settings: Settings, run: str) -> None:
        self.run = run
        self.submitted = 0
        self._producer = EventProducer(settings, client_id=f"bench-submitter-{run}")

    def submit(self, count: int) -> None:
        for _ in range(count):
            goal_id = f"{self.run}-{self.submitted}"
            command = SubmitGoal(goal_id=goal_id, goal_type=GOAL_TYPE, title="bench", submitted_by="bench")
            self._producer.publish(
                new_event(command, producer="bench", stream_id=goal_id, correlation_id=goal_id), topic=None
            )
            self.submitted += 1

    def flush(self) -> None:
        self._producer.flush(30)

    def close(self) -> None:
        """Flush, then let go of the Kafka client, so it does not keep reconnecting (and logging so) after the
        benchmark stops the broker."""
        self._producer.close(30)
        del self._producer


@dataclass
class TaskTimes:
    """``occurred_at`` (epoch seconds) of one task's events, None until seen."""

    created: float | None = None
    assigned: float | None = None
    started: float | None = None
    succeeded: float | None = None
    created_sent: float | None = None
    """The TaskCreated record's Kafka timestamp (producer time: when the orchestrator sent it)."""


@dataclass
class TaskWatch:
    """Reads the task events of goals whose id starts with ``run`` (earliest first) and keeps their times, and
    how and when each of those goals ended."""

    settings: Settings
    run: str
    tasks: dict[str, TaskTimes] = field(default_factory=dict)
    succeeded: int = 0
    #: ``occurred_at`` of each goal's GoalCompleted, by goal id.
    goals_completed: dict[str, float] = field(default_factory=dict)
    #: How each goal that ended did (GoalCompleted, GoalFailed or GoalCancelled), by goal id.
    goals_ended: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        config = (
            kafka_config(self.settings)
            | {
                "group.id": f"bench-watch-{uuid.uuid4().hex[:8]}",
                "client.id": "bench-watch",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
            }
            | BACKGROUND_FETCH
        )
        # The watch measures from the events' own times, not from when it reads them: it fetches in rounds (as
        # the projector does), not at each record, so the benchmark's observer costs the broker ~80 requests a
        # second less than a fetch per record did (at ~460 tasks/s, a tenth of the stack's requests).
        self._consumer = Consumer(config)
        self._consumer.subscribe([TASKS_EVENTS, GOALS_EVENTS])

    def poll(self, timeout_s: float) -> int:
        """Read what is there (waiting at most ``timeout_s``); returns how many records were read."""
        messages = self._consumer.consume(2000, timeout_s)
        for message in messages:
            if message.error() is not None or message.value() is None:
                continue
            key = message.key() or b""
            if not key.startswith(self.run.encode()):
                continue
            kind = dict(message.headers() or []).get("architect-type")
            if kind is not None and kind not in WATCHED_TYPES:
                continue
            self._note(json.loads(message.value()), message.timestamp()[1] / 1000)
        return len(messages)

    def _note(self, event: dict[str, object], sent: float) -> None:
        kind = event.get("type")
        if kind not in WATCHED:
            return
        payload = event["payload"]
        assert isinstance(payload, dict)
        when = datetime.fromisoformat(str(event["occurred_at"])).timestamp()
        if kind in GOAL_ENDINGS:
            self.goals_ended.setdefault(str(payload["goal_id"]), str(kind))
            if kind == "GoalCompleted":
                self.goals_completed.setdefault(str(payload["goal_id"]), when)
            return
        times = self.tasks.setdefault(str(payload["task_id"]), TaskTimes())
        if kind == "TaskCreated":
            times.created = times.created or when
            times.created_sent = times.created_sent or sent
        elif kind == "TaskStarted" and times.started is None:
            times.started = when
        elif kind == "TaskAssigned" and times.assigned is None:
            times.assigned = when
        elif kind == "TaskSucceeded" and times.succeeded is None:
            times.succeeded = when
            self.succeeded += 1

    def close(self) -> None:
        self._consumer.close()


@dataclass
class CpuSample:
    """CPU seconds (user + system) of each watched process at one moment."""

    at: float
    seconds: dict[str, float]

    @classmethod
    def take(cls, processes: dict[str, psutil.Process]) -> CpuSample:
        seconds = {}
        for name, process in processes.items():
            try:
                times = process.cpu_times()
                seconds[name] = times.user + times.system
            except psutil.Error:
                seconds[name] = 0.0
        return cls(time.monotonic(), seconds)


def cpu_shares(before: CpuSample, after: CpuSample) -> dict[str, float]:
    """Each process's CPU use between two samples, in cores (1.0 = one core busy all the time)."""
    elapsed = max(after.at - before.at, 1e-9)
    shares: dict[str, float] = {}
    for name, spent in before.seconds.items():
        group = "postgres" if name.startswith("postgres-") else name  # backends summed
        # A process gone or unreadable in one sample reads 0.0 there: count it as idle, never as negative.
        shares[group] = shares.get(group, 0.0) + max(after.seconds.get(name, spent) - spent, 0.0) / elapsed
    return shares


def machine_cpu_cores_busy(interval_s: float) -> float:
    """How many cores the whole machine kept busy over the interval (all processes, other sessions included)."""
    return psutil.cpu_percent(interval=interval_s) / 100 * (os.cpu_count() or 1)
