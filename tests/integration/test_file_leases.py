"""Lock checks before work starts, on the real broker: two agent runtimes (one agent each) are given tasks that
edit the same file at the same instant; the lock manager (a process) grants the lease to one; the other waits
and runs after the first released it. Their sessions and completed-task counters are replicated CRDT state,
which the projector (a process) writes into the read models that the CLI and the gateway show.

The lock manager uses a fixed consumer group id: run this module on a broker of its own, e.g.
``ARCHITECT_TEST_KAFKA_NAME=sharedstate ARCHITECT_TEST_KAFKA_PORT=39501``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row
from pydantic import SecretStr

from services.agent_runtime.backends.contract import TaskRequest
from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from services.locks.lock_table import FILE_LOCKS
from shared.bus import topics
from shared.bus.producer import EventProducer
from shared.crdt import fleet_state
from shared.crdt.replica import Replica
from shared.db.connection import connect
from shared.db.schema import migrate
from shared.events.catalogue.locks import AcquireLock
from shared.events.codec import new_event
from shared.infra.postgres_server import fresh_database
from shared.infra.stack import LocalStack
from shared.settings import Settings
from tests.integration.agent_runtime_helpers import EventTail, assignment, echo_agent, fleet, running_runtime
from tests.integration.kafka_helpers import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
EDIT_S = 1.5
#: (agent, task) -> (start, end) of every edit, in wall-clock seconds.
EDITS: dict[tuple[str, str], tuple[float, float]] = {}
_EDITS_LOCK = threading.Lock()


def slow_edit(request: TaskRequest) -> dict[str, object]:
    """A callable backend that "edits" its files for EDIT_S seconds and records when."""
    started = time.time()
    time.sleep(EDIT_S)
    with _EDITS_LOCK:
        EDITS[(request.agent_id, request.task_id)] = (started, time.time())
    return {"edited": request.inputs.get("files", []), "tokens_used": 1}


@dataclass
class SharedStateStack:
    settings: Settings
    read_models: str

    def rows(self, query: str, *args: object) -> list[dict[str, Any]]:
        with connect(self.read_models) as conn, conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(query, args).fetchall()

    def wait_rows(self, query: str, *args: object, timeout: float = 60.0) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []

        def some() -> bool:
            found[:] = self.rows(query, *args)
            return bool(found)

        wait_for(some, timeout=timeout, message=f"rows of {query}")
        return found

    def architect(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = os.environ | {
            "ARCHITECT_KAFKA_BOOTSTRAP_SERVERS": self.settings.kafka_bootstrap_servers,
            "DATABASE_URL": self.read_models,
            "COLUMNS": "400",
        }
        command = [sys.executable, "-m", "shared.cli.main", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=90, check=False)


@pytest.fixture(scope="module")
def shared_state(
    settings: Settings, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SharedStateStack]:
    """The lock manager and the projector as processes, with read models of their own."""
    directory = tmp_path_factory.mktemp("file-leases")
    read_models = fresh_database(database_url, f"shared_state_{uuid.uuid4().hex[:10]}")
    with connect(read_models) as conn:
        migrate(conn)
    env = {"ARCHITECT_TOPIC_PARTITIONS": str(settings.topic_partitions)}
    stack = LocalStack(settings.kafka_bootstrap_servers, read_models, directory / "logs", extra_env=env)
    try:
        stack.start_all(["locks", "projector"])
        yield SharedStateStack(settings, read_models)
    finally:
        print(f"\nservices stopped (exit codes {stack.stop()}); logs in {stack.log_dir}")


def editor(agent_id: str) -> dict[str, object]:
    return echo_agent(agent_id, backend={"kind": "callable", "target": f"{__name__}:slow_edit"})


def test_two_agents_editing_the_same_file_at_once_run_one_after_the_other(
    shared_state: SharedStateStack, settings: Settings
) -> None:
    tag = uuid.uuid4().hex[:6]
    agents = [f"alice-{tag}", f"bob-{tag}"]
    path, goal = f"src/{tag}/app.py", f"goal-{tag}"
    # Agents' reports travel on architect.agents.reports where that topic exists (the assigner checks and forwards
    # them to architect.tasks.events); no assigner runs here, so follow both.
    tail = EventTail(
        settings,
        [topics.TASKS_EVENTS, *([topics.AGENTS_REPORTS] if hasattr(topics, "AGENTS_REPORTS") else [])],
    )
    producer = EventProducer(settings, client_id=f"lease-test-{tag}")
    with ExitStack() as stack, Replica(settings, f"observer-{tag}") as observer:
        for agent in agents:
            stack.enter_context(running_runtime(settings, fleet(f"rt-{agent}", editor(agent))))
        observer.wait_until(fleet_state.SESSIONS, lambda s: set(agents) <= s.elements or None, 60)
        sessions = shared_state.wait_rows("SELECT * FROM active_sessions WHERE agent_id = ANY(%s)", agents)
        wait_for(lambda: len(shared_state.rows("SELECT * FROM active_sessions WHERE agent_id = ANY(%s)", agents)) == 2)
        listed = shared_state.architect("state", "sessions")
        assert listed.returncode == 0 and all(a in listed.stdout for a in agents), listed.stderr
        assert sessions[0]["runtimes"] == [f"rt-{sessions[0]['agent_id']}"]
        tasks = {agent: f"{goal}/edit-{agent}" for agent in agents}
        for agent in agents:
            work = assignment(tasks[agent], goal, agent, timeout_s=60, inputs={"files": [path, f"{path}.{agent}"]})
            producer.publish(work)
        producer.flush()

        done = tail.wait_for("TaskSucceeded", count=2, timeout=90, goal_id=goal)
        assert {e.payload.agent_id for e in done} == set(agents)
        (first, second) = sorted((EDITS[(a, tasks[a])] for a in agents), key=lambda edit: edit[0])
        assert first[1] <= second[0], f"the edits overlapped: {first} and {second}"
        starts = {e.payload.agent_id: e.occurred_at for e in tail.matching("TaskStarted", goal_id=goal)}
        ends = {e.payload.agent_id: e.occurred_at for e in done}
        later = max(agents, key=lambda a: starts[a])
        earlier = min(agents, key=lambda a: starts[a])
        assert starts[later] >= ends[earlier], "the waiting agent started only after the first one finished"

        released = observer.wait_until(FILE_LOCKS, lambda g: (path not in g and f"{path}.{later}" not in g) or None, 30)
        assert released
        for agent in agents:
            counter = observer.wait_until(
                fleet_state.completed_counter("agent", agent), lambda c: c if c.value >= 1 else None, 30
            )
            assert counter.value == 1
        capability = observer.wait_until(
            fleet_state.completed_counter("capability", "code"), lambda c: c if c.value >= 2 else None, 30
        )
        assert capability.value >= 2
        for agent in agents:  # each attempt +1 when it started, -1 when it ended: none in flight now
            flight = observer.wait_until(
                fleet_state.in_flight_counter(agent), lambda c: c if c.decrements.value >= 1 else None, 30
            )
            assert (flight.value, flight.increments.value) == (0, 1)
    assert observer.get(fleet_state.SESSIONS) is not None
    wait_for(lambda: not shared_state.rows("SELECT * FROM active_sessions WHERE agent_id = ANY(%s)", agents), 60)
    counted = shared_state.wait_rows("SELECT * FROM task_counters WHERE kind = 'agent' AND name = ANY(%s)", agents)
    wait_for(lambda: len(shared_state.rows("SELECT * FROM task_counters WHERE name = ANY(%s)", agents)) == 2, 60)
    assert {row["completed"] for row in counted} == {1}
    listed = shared_state.architect("state", "counters", "--kind", "agent")
    assert listed.returncode == 0 and all(a in listed.stdout for a in agents), listed.stderr

    def flights() -> list[tuple[int, int, int]]:
        rows = shared_state.rows("SELECT * FROM tasks_in_flight WHERE agent_id = ANY(%s)", agents)
        return sorted((row["in_flight"], row["started"], row["ended"]) for row in rows)

    wait_for(lambda: flights() == [(0, 1, 1), (0, 1, 1)], 60)
    listed = shared_state.architect("state", "in-flight")
    assert listed.returncode == 0 and all(a in listed.stdout for a in agents), listed.stderr
    with Replica(settings, f"observer2-{tag}") as after:
        assert after.wait_caught_up(60)
        sessions = after.get(fleet_state.SESSIONS)
        assert not set(agents) & sessions.elements, "stopped runtimes removed their sessions"
    tail.close()
    producer.close()


def test_leases_are_in_the_read_models_the_cli_and_the_gateway(shared_state: SharedStateStack) -> None:
    path, holder = f"docs/{uuid.uuid4().hex[:8]}.md", f"carol-{uuid.uuid4().hex[:6]}"
    producer = EventProducer(shared_state.settings, client_id="lease-read-models")
    try:
        asked = AcquireLock(path=path, agent_id=holder, request_id=f"{holder}-1", lease_s=120, task_id="g/t")
        producer.publish(new_event(asked, producer="tests", stream_id=path, correlation_id=path))
        producer.flush()
    finally:
        producer.close()
    (row,) = shared_state.wait_rows("SELECT * FROM file_locks WHERE path = %s", path)
    assert row["holder"] == holder and row["task_id"] == "g/t" and row["denied"] == []
    assert 100 < (row["expires_at"] - row["granted_at"]).total_seconds() <= 120

    listed = shared_state.architect("locks", "list")
    assert listed.returncode == 0 and path in listed.stdout and holder in listed.stdout, listed.stderr

    settings = Settings(
        kafka_bootstrap_servers=shared_state.settings.kafka_bootstrap_servers, database_url=shared_state.read_models
    )
    gateway = GatewaySettings(api_keys=SecretStr("reader-key=reader"), allow_dev_key=False, readiness_timeout_s=2)
    with TestClient(create_app(settings, gateway)) as client:
        headers = {"X-API-Key": "reader-key"}
        locks = client.get("/locks", headers=headers)
        assert locks.status_code == 200, locks.text
        (lease,) = [item for item in locks.json()["items"] if item["path"] == path]
        assert lease["holder"] == holder and lease["live"] is True
        for endpoint in ("/sessions", "/counters?kind=agent", "/in-flight"):
            response = client.get(endpoint, headers=headers)
            assert response.status_code == 200 and "items" in response.json(), response.text
        assert client.get("/counters?kind=team", headers=headers).status_code == 422
        assert client.get("/locks").status_code == 401
