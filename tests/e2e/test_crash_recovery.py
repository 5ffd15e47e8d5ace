"""Done means: SIGKILL of the orchestrator and of the assigner mid-goal, then a restart, completes every goal
with no task executed twice.

Executions are counted from the tasks topic itself (read to its end once every goal is done): each task of
each goal has exactly one TaskStarted and one TaskSucceeded, both of its first attempt. Events re-published
with the same id by a restarted service are one event (consumers de-duplicate by event id); a second
execution would carry a new id.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from shared.bus.reader import read_to_end
from shared.bus.topics import TASKS_EVENTS
from shared.events.codec import DecodeError, decode
from tests.e2e.harness import EndToEnd
from tests.e2e.test_builtin_methods import BUILTIN_GOALS

pytestmark = pytest.mark.integration
GOALS_PER_METHOD = 2
DOWN_FOR_S = 1.0


@pytest.mark.timeout(240, func_only=True)
def test_sigkill_of_orchestrator_and_assigner_mid_goal_loses_and_repeats_nothing(e2e: EndToEnd) -> None:
    goal_types = {e2e.submit(goal_type): goal_type for goal_type in BUILTIN_GOALS for _ in range(GOALS_PER_METHOD)}
    goal_ids = list(goal_types)
    ours = set(goal_ids)

    def of_ours(event_type: str) -> int:
        return len(e2e.tap.events(types=[event_type], where=lambda e: e.payload.goal_id in ours))

    e2e.wait_until("a first task to succeed", lambda: of_ours("TaskSucceeded"), 60)
    e2e.stack.kill("orchestrator")
    time.sleep(DOWN_FOR_S)
    e2e.stack.restart("orchestrator")
    restarted_at = time.time()

    # The restarted orchestrator releases further tasks; kill the assigner while goals are still under way.
    e2e.wait_event(
        "the restarted orchestrator to create a task",
        types=["TaskCreated"],
        where=lambda e: e.payload.goal_id in ours and e.occurred_at.timestamp() > restarted_at,
        timeout_s=120,
    )
    assert of_ours("GoalCompleted") < len(goal_ids), "every goal finished before the assigner could be killed"
    e2e.stack.kill("assigner")
    time.sleep(DOWN_FOR_S)
    e2e.stack.restart("assigner")

    for goal_id in goal_ids:
        e2e.wait_completed(goal_id, timeout_s=120)

    started: Counter[tuple[str, int]] = Counter()
    succeeded: Counter[tuple[str, int]] = Counter()
    seen: set[str] = set()
    for record in read_to_end(e2e.settings, [TASKS_EVENTS]):
        try:
            event = decode(record.value, record.key)
        except DecodeError:
            continue
        if event.type not in ("TaskStarted", "TaskSucceeded") or event.payload.goal_id not in ours:
            continue
        if str(event.event_id) in seen:
            continue  # the same event published again, not a second execution
        seen.add(str(event.event_id))
        counter = started if event.type == "TaskStarted" else succeeded
        counter[(event.payload.task_id, event.payload.attempt)] += 1

    expected = {(f"{goal_id}/{step}", 1) for goal_id in goal_ids for step in BUILTIN_GOALS[goal_types[goal_id]]}
    assert set(started) == expected and set(succeeded) == expected
    assert {count for count in started.values()} == {1}, [key for key, n in started.items() if n > 1]
    assert {count for count in succeeded.values()} == {1}, [key for key, n in succeeded.items() if n > 1]
