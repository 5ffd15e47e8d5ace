"""Lock checks before work starts, on the real broker: two agent runtimes (one agent each) are given tasks that
edit the same file at the same instant; the lock manager (a process) grants the lease to one; the other waits
and runs after the first released it. Their sessions and completed-task counters are replicated CRDT state.

The lock manager uses a fixed consumer group id: run this module on a broker of its own, e.g.
``ARCHITECT_TEST_KAFKA_NAME=sharedstate ARCHITECT_TEST_KAFKA_PORT=39501``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from services.agent_runtime.backends.contract import TaskRequest
from services.locks.lock_table import FILE_LOCKS
from shared.bus import topics
from shared.bus.producer import EventProducer
from shared.crdt import fleet_state
from shared.crdt.replica import Replica
from shared.infra.stack import LocalStack
from shared.settings import Settings
from tests.integration.agent_runtime_helpers import EventTail, assignment, echo_agent, fleet, running_runtime

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


@pytest.fixture(scope="module")
def lock_manager(settings: Settings, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    directory = tmp_path_factory.mktemp("file-leases")
    env = {"ARCHITECT_TOPIC_PARTITIONS": str(settings.topic_partitions)}
    stack = LocalStack(settings.kafka_bootstrap_servers, database_url, directory / "logs", extra_env=env)
    try:
        stack.start_all(["locks"])
        yield
    finally:
        print(f"\nlock manager stopped (exit codes {stack.stop()}); logs in {stack.log_dir}")


def editor(agent_id: str) -> dict[str, object]:
    return echo_agent(agent_id, backend={"kind": "callable", "target": f"{__name__}:slow_edit"})


def test_two_agents_editing_the_same_file_at_once_run_one_after_the_other(
    lock_manager: None, settings: Settings
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
    assert observer.get(fleet_state.SESSIONS) is not None
    with Replica(settings, f"observer2-{tag}") as after:
        assert after.wait_caught_up(60)
        sessions = after.get(fleet_state.SESSIONS)
        assert not set(agents) & sessions.elements, "stopped runtimes removed their sessions"
    tail.close()
    producer.close()
