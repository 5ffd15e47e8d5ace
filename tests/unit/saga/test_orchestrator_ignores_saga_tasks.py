"""Saga steps are tasks whose goal id is the saga id: the orchestrator, which knows no such goal, leaves them be."""

from __future__ import annotations

import pytest

from services.orchestrator.decider import Context, decide
from services.orchestrator.htn.builtin_domain import builtin_domain
from shared.events.catalogue.tasks import TaskAbandoned, TaskCreated, TaskFailed, TaskSucceeded
from shared.events.codec import new_event
from shared.events.envelope import Payload

SAGA = "saga-order-1"
TASK = f"{SAGA}/charge/a1"


@pytest.mark.parametrize(
    "payload",
    [
        TaskCreated(task_id=TASK, goal_id=SAGA, operator="charge", capability="charge"),
        TaskSucceeded(task_id=TASK, goal_id=SAGA, agent_id="a"),
        TaskFailed(task_id=TASK, goal_id=SAGA, agent_id="a", error_class="crash"),
        TaskAbandoned(task_id=TASK, goal_id=SAGA, attempt=1, error_class="auth"),
    ],
)
def test_task_events_of_an_unknown_goal_change_nothing_and_emit_nothing(payload: Payload) -> None:
    event = new_event(payload, producer="test", stream_id=SAGA, correlation_id=SAGA)
    decision = decide(None, event, Context(builtin_domain(), frozenset()))
    assert decision.record is None
    assert decision.emit == []
