"""Task outcomes copied to their creator's command topic (``TaskCreated.reply_to``), on the real broker.

The real assigner and agent runtime run three tasks: one naming the saga coordinator's command topic that
succeeds, one naming the consensus engine's that fails for good (``auth`` is not retried), and one naming
none. Each outcome is a fact on ``architect.tasks.events``; the first two are also on their reply topic, the
same event (same id and payload), and nothing else about any task is.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from services.agent_runtime.backends.contract import BackendFailure, TaskRequest
from services.assigner.service import Assigner
from shared.bus.producer import EventProducer
from shared.bus.reader import read_to_end
from shared.bus.topics import DECISIONS_COMMANDS, SAGAS_COMMANDS, TASKS_EVENTS
from shared.events.codec import decode
from shared.settings import Settings
from tests.conftest import unique
from tests.integration.agent_runtime_helpers import (
    EventTail,
    echo_agent,
    fleet,
    running_assigner,
    running_runtime,
    task_created,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def refuse(request: TaskRequest) -> dict[str, Any]:
    """A callable backend whose credentials are always refused (not retryable: the task is abandoned)."""
    raise BackendFailure("auth", f"{request.agent_id} may not do {request.operator}")


@pytest.fixture
def assigner(settings: Settings) -> Iterator[Assigner]:
    with running_assigner(settings) as service:
        yield service


def test_a_task_s_outcome_is_copied_to_the_reply_topic_it_names_and_only_there(
    settings: Settings, assigner: Assigner, producer: EventProducer
) -> None:
    tag = unique("replies")
    works, refuses = f"cap-works-{tag}", f"cap-refuses-{tag}"
    agents = [
        echo_agent(f"worker-{tag}", capabilities=[works]),
        {
            "id": f"refuser-{tag}",
            "capabilities": [refuses],
            "backend": {"kind": "callable", "target": f"{__name__}:refuse"},
        },
    ]
    saga_id, decision_id, goal_id = f"saga-{tag}", f"decision-{tag}", f"goal-{tag}"
    tasks = {
        "saga step": task_created(saga_id, "charge", works, reply_to=SAGAS_COMMANDS),
        "ballot": task_created(decision_id, "vote", refuses, reply_to=DECISIONS_COMMANDS),
        "goal task": task_created(goal_id, "build", works),
    }
    facts = EventTail(settings, [TASKS_EVENTS])
    try:
        with running_runtime(settings, fleet(f"rt-{tag}", *agents)):
            for created in tasks.values():
                producer.publish(created)
            producer.flush()
            (succeeded,) = facts.wait_for("TaskSucceeded", task_id=tasks["saga step"].payload.task_id, timeout=60)
            (abandoned,) = facts.wait_for("TaskAbandoned", task_id=tasks["ballot"].payload.task_id, timeout=60)
            (plain,) = facts.wait_for("TaskSucceeded", task_id=tasks["goal task"].payload.task_id, timeout=60)
    finally:
        facts.close()

    # Each copy is committed with its fact, so reading the reply topics to their ends now finds every copy.
    copied = {
        (record.topic, record.key, str(envelope.event_id)): envelope
        for record in read_to_end(settings, [SAGAS_COMMANDS, DECISIONS_COMMANDS])
        if tag in (record.key or b"").decode()
        for envelope in [decode(record.value, record.key)]
    }
    assert set(copied) == {
        (SAGAS_COMMANDS, saga_id.encode(), str(succeeded.event_id)),
        (DECISIONS_COMMANDS, decision_id.encode(), str(abandoned.event_id)),
    }, "only the outcomes of tasks naming a reply topic are copied, each to the topic it named, keyed by its owner"
    assert copied[(SAGAS_COMMANDS, saga_id.encode(), str(succeeded.event_id))] == succeeded
    assert copied[(DECISIONS_COMMANDS, decision_id.encode(), str(abandoned.event_id))] == abandoned
    assert abandoned.payload.error_class == "auth"
    assert plain.payload.output["operator"] == "build"
