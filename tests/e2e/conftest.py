"""One stack for the whole end-to-end session: scheduler, assigner, orchestrator, projector and an agent runtime
hosting the e2e fleet, on the session's broker and a migrated database of its own.

Knobs are shortened (see ``knobs``) so failures, breakers and timeouts play out in seconds. Service logs go to
the session's directory; a failing test prints their last lines and the last events seen.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from shared.bus.bootstrap import admin_client
from shared.bus.producer import EventProducer
from shared.bus.topics import AGENTS_EVENTS, GOALS_COMMANDS, GOALS_EVENTS, TASKS_EVENTS
from shared.db.connection import connect
from shared.db.schema import migrate
from shared.infra.postgres_server import fresh_database
from shared.infra.stack import CORE_SERVICES, LocalStack, ServiceFailed, ServiceSpec
from shared.settings import Settings
from tests.e2e.event_tap import EventTap
from tests.e2e.fleet import E2EFleet, write_files
from tests.e2e.harness import EndToEnd
from tests.e2e.knobs import stack_env

STARTUP_TIMEOUT_S = 180.0


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed end-to-end test reports the last lines of every service log beside its own output."""
    outcome = yield
    report = outcome.get_result()
    e2e = getattr(item, "funcargs", {}).get("e2e")
    if report.failed and isinstance(e2e, EndToEnd):
        report.sections.append(("service logs", e2e.log_tails()))
        report.sections.append(("recent events", e2e.recent_events()))


def _partitions_of(settings: Settings, topic: str) -> int:
    """How many partitions ``topic`` really has (a shared broker may hold topics made with another count)."""
    metadata = admin_client(settings).list_topics(topic, timeout=30)
    return len(metadata.topics[topic].partitions)


@pytest.fixture(scope="package")  # stopped before other packages run on the same broker
def e2e_session(settings: Settings, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EndToEnd]:
    directory = tmp_path_factory.mktemp("e2e")
    fleet = E2EFleet(tag=uuid.uuid4().hex[:6], flaky_flag=directory / "flaky-agent-is-down")
    fleet_file, methods_dir = write_files(directory, fleet)
    read_models_name = f"e2e_{uuid.uuid4().hex[:10]}"
    read_models = fresh_database(database_url, read_models_name)
    with connect(read_models) as conn:
        migrate(conn)
    tap = EventTap(settings, [GOALS_COMMANDS, GOALS_EVENTS, TASKS_EVENTS, AGENTS_EVENTS])
    stack = LocalStack(
        settings.kafka_bootstrap_servers,
        read_models,
        directory / "logs",
        extra_env=stack_env(_partitions_of(settings, GOALS_COMMANDS), directory / "data", methods_dir),
    )
    producer = EventProducer(settings, client_id="e2e-tests")
    e2e = EndToEnd(stack, settings, read_models, tap, fleet, producer)
    try:
        stack.start_all([*CORE_SERVICES, ServiceSpec("agent_runtime", ("--config", str(fleet_file)))])
        try:
            _wait_ready(e2e)
        except (AssertionError, ServiceFailed) as error:
            pytest.fail(f"the e2e stack did not start: {error}\n{e2e.log_tails()}\n{e2e.recent_events()}")
        yield e2e
    finally:
        codes = stack.stop()
        producer.close()
        tap.close()
        _drop_database(database_url, read_models_name)
        print(f"\ne2e stack stopped (exit codes {codes}); logs in {stack.log_dir}")


def _drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _wait_ready(e2e: EndToEnd) -> None:
    """Every agent registered and one goal through every service: the stack is warm."""
    for agent_id in e2e.fleet.agent_ids():
        e2e.wait_event(
            f"agent {agent_id} to register",
            types=["AgentRegistered"],
            where=lambda event, agent_id=agent_id: event.payload.agent_id == agent_id,
            timeout_s=STARTUP_TIMEOUT_S,
        )
    e2e.wait_completed(e2e.submit("fix_bug", title="warm-up"), timeout_s=STARTUP_TIMEOUT_S)


@pytest.fixture
def e2e(e2e_session: EndToEnd) -> EndToEnd:
    """The session's stack (a failing test shows the tail of every service log)."""
    return e2e_session
