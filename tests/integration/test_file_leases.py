"""Lock checks before work starts, on the real broker: two agent runtimes (one agent each) are given tasks that
edit the same file at the same instant; the lock manager (a process) grants the lease to one; the other waits
and runs after the first released it. Their sessions and completed-task counters are replicated CRDT state,
which the projector (a process) writes into the read models that the CLI and the gateway show. With the assigner
and the scheduler running too, a task waiting for a file holds no slot of its agent (an unrelated task runs
meanwhile), and one that waits past the lease-wait limit is given back (``lock_conflict``), retried and done; a
release of the file retries it at once instead of after its backoff.

The lock manager uses a fixed consumer group id: run this module on a broker of its own, e.g.
``ARCHITECT_TEST_KAFKA_NAME=sharedstate ARCHITECT_TEST_KAFKA_PORT=25501``.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row
from pydantic import SecretStr

from services.agent_runtime.backends.contract import TaskRequest
from services.agent_runtime.fleet_config import parse_fleet
from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from services.locks.lock_table import FILE_LOCKS
from shared.bus import topics
from shared.bus.producer import EventProducer
from shared.crdt import fleet_state
from shared.crdt.replica import Replica
from shared.db.connection import connect
from shared.db.schema import migrate
from shared.events.catalogue.locks import AcquireLock, ReleaseLock
from shared.events.catalogue.tasks import TaskCreated
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
    time.sleep(float(request.inputs.get("edit_s", EDIT_S)))
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


@pytest.fixture
def assigning(shared_state: SharedStateStack, tmp_path: Path) -> Iterator[str]:
    """The assigner and the scheduler as processes beside the lock manager and the projector; yields the agent
    identity secret they check reports with. A breaker opens at the first failure charged to an agent."""
    secret = secrets.token_hex(16)
    env = {
        "ARCHITECT_TOPIC_PARTITIONS": str(shared_state.settings.topic_partitions),
        "ARCHITECT_AGENT_IDENTITY_SECRET": secret,
        "ARCHITECT_ASSIGNER_BREAKER_FAILURE_THRESHOLD": "1",
    }
    stack = LocalStack(shared_state.settings.kafka_bootstrap_servers, shared_state.read_models, tmp_path, env)
    try:
        stack.start_all(["assigner", "scheduler"])
        yield secret
    finally:
        print(f"\nassigner and scheduler stopped (exit codes {stack.stop()}); logs in {stack.log_dir}")


def created(task_id: str, goal_id: str, capability: str, **inputs: Any) -> Any:
    task = TaskCreated(
        task_id=task_id, goal_id=goal_id, operator="edit", capability=capability, inputs=inputs, timeout_s=60
    )
    return new_event(task, producer="orchestrator", stream_id=goal_id, correlation_id=goal_id)


def test_a_task_waiting_for_a_file_holds_no_slot_and_past_the_limit_is_given_back_and_retried(
    shared_state: SharedStateStack, settings: Settings, assigning: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    alice, bob = f"alice-{tag}", f"bob-{tag}"
    path, goal = f"src/{tag}/shared.py", f"goal-leases-{tag}"
    hold, waits, free = f"{goal}/review", f"{goal}/edit", f"{goal}/notes"
    signed = settings.model_copy(update={"agent_identity_secret": SecretStr(assigning)})
    # alice has one slot and gives up on a file after 3 s; bob reviews (holding the file) for 6 s.
    alice_fleet = parse_fleet(
        {
            "runtime": {"id": f"rt-{alice}", "heartbeat_s": 0.5, "drain_timeout_s": 5, "lease_wait_s": 3},
            "agents": [editor(alice) | {"capabilities": [f"code-{tag}"], "capacity": 1}],
        }
    )
    bob_fleet = fleet(f"rt-{bob}", editor(bob) | {"capabilities": [f"review-{tag}"]})
    tail = EventTail(settings, [topics.TASKS_EVENTS, topics.AGENTS_EVENTS])
    producer = EventProducer(settings, client_id=f"lease-retry-test-{tag}")
    with running_runtime(signed, alice_fleet), running_runtime(signed, bob_fleet):
        for agent in (alice, bob):
            tail.wait_for("AgentRegistered", agent_id=agent, timeout=60)
        producer.publish(created(hold, goal, f"review-{tag}", files=[path], edit_s=6))
        producer.flush()
        tail.wait_for("TaskStarted", task_id=hold, timeout=30)  # bob holds the file's lease
        producer.publish(created(waits, goal, f"code-{tag}", files=[path], edit_s=0.2))
        producer.flush()
        beat = tail.wait_for("AgentHeartbeat", agent_id=alice, lease_waits=1, timeout=30)[0]
        producer.publish(created(free, goal, f"code-{tag}", edit_s=0.2))
        producer.flush()

        # The unrelated task ran on alice's one slot while the other waited for bob's file.
        (noted,) = tail.wait_for("TaskSucceeded", task_id=free, timeout=30)
        assert noted.payload.agent_id == alice
        assert not tail.matching("TaskStarted", task_id=waits), "the waiting task had not started"
        tail.wait_for("TaskSucceeded", task_id=hold, timeout=30)
        assert EDITS[(alice, free)][1] < EDITS[(bob, hold)][1], "it ran while bob still held the file"

        # Past alice's 3 s limit the waiting task was given back, naming the file, its holder and its task.
        given_back = tail.wait_for("TaskFailed", task_id=waits, error_class="lock_conflict", timeout=30)[0]
        error = given_back.payload.error
        assert f"{path} held by {bob} (task {hold})" in error and "limit 3s" in error, error
        assert 2.5 <= given_back.payload.duration_ms / 1000 <= 10
        assert noted.occurred_at < given_back.occurred_at, "the unrelated task ran while the other one waited"
        (retry,) = tail.wait_for("TaskRetryScheduled", task_id=waits, attempt=2, timeout=30)
        assert retry.payload.reason.startswith("lock_conflict: retry 1 of 5")

        # Retried on alice (her breaker, which a single charged failure opens, stayed closed) and done after bob.
        (edited,) = tail.wait_for("TaskSucceeded", task_id=waits, timeout=90)
        assert edited.payload.agent_id == alice and edited.payload.attempt >= 2
        assert EDITS[(alice, waits)][0] >= EDITS[(bob, hold)][1], "the edits overlapped"
        assert not tail.matching("BreakerStateChanged", agent_id=alice)
        assert not tail.matching("TaskAbandoned", task_id=waits)
        assert beat.occurred_at < noted.occurred_at

    # The read models and the goal's timeline say why.
    row = shared_state.wait_rows("SELECT * FROM tasks WHERE task_id = %s AND status = 'succeeded'", waits)[0]
    assert row["agent_id"] == alice and row["attempt"] == edited.payload.attempt
    query = "SELECT type, body -> 'payload' AS payload FROM events WHERE correlation_id = %s ORDER BY occurred_at"
    wait_for(lambda: sum(r["type"] == "TaskSucceeded" for r in shared_state.rows(query, goal)) == 3, 60)
    timeline = shared_state.rows(query, goal)
    mine = [
        (r["type"], r["payload"].get("attempt"))
        for r in timeline
        if r["payload"].get("task_id") == waits and r["type"].startswith("Task")
    ]
    assert mine[:4] == [("TaskCreated", None), ("TaskAssigned", 1), ("TaskFailed", 1), ("TaskRetryScheduled", 2)]
    assert mine[-2:] == [("TaskStarted", edited.payload.attempt), ("TaskSucceeded", edited.payload.attempt)]
    failures = [r["payload"] for r in timeline if r["type"] == "TaskFailed"]
    assert failures and all(f["error_class"] == "lock_conflict" and path in f["error"] for f in failures)
    beats = shared_state.rows(
        "SELECT body -> 'payload' AS payload FROM events WHERE type = 'AgentHeartbeat' AND stream_id = %s", alice
    )
    assert any(b["payload"]["lease_waits"] == 1 for b in beats)
    # The agents read model follows the heartbeats: nothing waits any more once the retry ran.
    shared_state.wait_rows("SELECT * FROM agents WHERE agent_id = %s AND lease_waits = 0", alice)
    tail.close()
    producer.close()


def test_a_task_given_back_for_a_lock_conflict_is_retried_as_soon_as_the_file_is_released(
    shared_state: SharedStateStack, settings: Settings, assigning: str
) -> None:
    """The test holds a file's lease itself; alice's task on that file gives up waiting after 2 s, again on its
    first retry, and while its second retry waits for its backoff (4 s) the test releases the lease. The assigner,
    following the lock manager's leases, retries it at once (its TaskRetryDue published early), and the task is
    done before the backoff would have ended; the backoff's own TaskRetryDue, arriving later, assigns nothing."""
    tag = uuid.uuid4().hex[:6]
    alice, holder = f"alice-{tag}", f"carol-{tag}"
    path, goal = f"src/{tag}/locked.py", f"goal-wake-{tag}"
    task_id = f"{goal}/edit"
    signed = settings.model_copy(update={"agent_identity_secret": SecretStr(assigning)})
    alice_fleet = parse_fleet(
        {
            "runtime": {"id": f"rt-{alice}", "heartbeat_s": 0.5, "drain_timeout_s": 5, "lease_wait_s": 2},
            "agents": [editor(alice) | {"capabilities": [f"code-{tag}"]}],
        }
    )
    tail = EventTail(settings, [topics.TASKS_EVENTS, topics.AGENTS_EVENTS])
    producer = EventProducer(settings, client_id=f"lease-wake-test-{tag}")
    lock = {"path": path, "agent_id": holder, "request_id": f"{holder}-1"}
    held = AcquireLock(**lock, lease_s=300)
    producer.publish(new_event(held, producer="tests", stream_id=path, correlation_id=goal))
    producer.flush()
    shared_state.wait_rows("SELECT * FROM file_locks WHERE path = %s AND holder = %s", path, holder)
    with running_runtime(signed, alice_fleet):
        tail.wait_for("AgentRegistered", agent_id=alice, timeout=60)
        producer.publish(created(task_id, goal, f"code-{tag}", files=[path], edit_s=0.1))
        producer.flush()
        (backoff,) = tail.wait_for("TaskRetryScheduled", task_id=task_id, attempt=3, timeout=60)
        assert backoff.payload.reason.startswith("lock_conflict: retry 2 of 5") and backoff.payload.delay_s >= 4
        assert not tail.matching("TaskAssigned", task_id=task_id, attempt=3), "not retried while the file was held"
        released = new_event(ReleaseLock(**lock), producer="tests", stream_id=path, correlation_id=goal)
        producer.publish(released)
        producer.flush()

        (assigned,) = tail.wait_for("TaskAssigned", task_id=task_id, attempt=3, timeout=30)
        (done,) = tail.wait_for("TaskSucceeded", task_id=task_id, timeout=30)
        backoff_ends = backoff.occurred_at + timedelta(seconds=backoff.payload.delay_s)
        time.sleep(max((backoff_ends - done.occurred_at).total_seconds(), 0) + 2)
        dues = tail.matching("TaskRetryDue", task_id=task_id, attempt=3)
    assert done.payload.attempt == 3 and done.payload.agent_id == alice
    assert assigned.occurred_at < backoff_ends and done.occurred_at < backoff_ends, "retried before its backoff"
    # Two copies of one TaskRetryDue: the assigner's, published early, and the scheduler's after the backoff.
    assert len(dues) == 2 and len({due.event_id for due in dues}) == 1, dues
    assert assigned.causation_id == dues[0].event_id
    assert len(tail.matching("TaskAssigned", task_id=task_id)) == 3, "the later TaskRetryDue assigned nothing"
    tail.close()
    producer.close()
