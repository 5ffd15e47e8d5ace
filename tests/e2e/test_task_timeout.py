"""Done means: a task that times out is retried per its policy.

The only `audit` agent hangs on a task's first attempt for longer than the manager tier's timeout (shortened
for the stack), and answers at once on a retry. The orchestrator's scheduled timeout check times the attempt
out; the assigner schedules the retry its policy (the stack's RETRY_POLICY) gives for a timeout.
"""

from __future__ import annotations

import pytest

from services.assigner.retry_policy import next_retry
from services.assigner.settings import AssignerSettings
from tests.e2e.fleet import AUDITED_CHANGE_GOAL
from tests.e2e.harness import EndToEnd
from tests.e2e.knobs import MANAGER_TIMEOUT_S, RETRY_POLICY

pytestmark = pytest.mark.integration


@pytest.mark.timeout(90, func_only=True)
def test_a_timed_out_task_is_retried_per_its_policy(e2e: EndToEnd) -> None:
    goal_id = e2e.submit(AUDITED_CHANGE_GOAL, title="the auditor hangs once")
    task_id = f"{goal_id}/audit"

    row = e2e.wait_completed(goal_id)
    assert row["tasks_succeeded"] == 1
    created = e2e.tap.events(goal_id=goal_id, types=["TaskCreated"])
    assert [(c.payload.tier, c.payload.timeout_s) for c in created] == [("manager", MANAGER_TIMEOUT_S)]
    timed_out = e2e.tap.events(goal_id=goal_id, types=["TaskTimedOut"])
    assert [(t.payload.task_id, t.payload.attempt, t.payload.timeout_s) for t in timed_out] == [
        (task_id, 1, MANAGER_TIMEOUT_S)
    ]
    expected = next_retry(AssignerSettings(retry_policy=RETRY_POLICY).policy(), "timeout", 1)
    retries = e2e.tap.events(goal_id=goal_id, types=["TaskRetryScheduled"])
    assert [(r.payload.attempt, r.payload.delay_s, r.payload.reason) for r in retries] == [
        (2, expected.delay_s, expected.reason)
    ]
    assert retries[0].causation_id == timed_out[0].event_id, "the retry answers the timeout"
    attempts = [
        (a.payload.attempt, a.payload.agent_id) for a in e2e.tap.events(goal_id=goal_id, types=["TaskAssigned"])
    ]
    assert attempts == [(1, e2e.fleet.slow), (2, e2e.fleet.slow)]
    succeeded = e2e.tap.events(goal_id=goal_id, types=["TaskSucceeded"])
    assert [s.payload.attempt for s in succeeded] == [2]
    types = e2e.types_of(goal_id)
    assert types.index("TaskTimedOut") < types.index("TaskRetryScheduled") < types.index("TaskSucceeded")
