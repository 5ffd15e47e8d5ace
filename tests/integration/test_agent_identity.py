"""Per-agent identity on the real broker: the real assigner and agent runtime, with an identity secret.

A task is assigned to alice and held running; meanwhile forged reports arrive on ``architect.agents.reports``:
mallory reporting alice's task as her own, mallory signing as alice, an unsigned report in alice's name. Each is
dead-lettered with its reason and none reaches ``architect.tasks.events`` (the only topic the orchestrator,
projector, sagas, consensus and drift monitor read results from). Alice's own result then completes the task.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from services.agent_runtime.backends.contract import TaskRequest
from services.assigner.service import GROUP, Assigner
from shared.agent_identity import SIGNATURE_HEADER, agent_token, producer_name, sign
from shared.bus.producer import EventProducer
from shared.bus.topics import AGENTS_REPORTS, EVENT_TOPICS, TASKS_EVENTS
from shared.events.catalogue.tasks import TaskSucceeded
from shared.events.codec import encode, new_event
from shared.events.envelope import Envelope
from shared.settings import Settings
from tests.conftest import unique
from tests.integration.agent_runtime_helpers import EventTail, fleet, running_assigner, running_runtime, task_created
from tests.integration.kafka_helpers import dead_letters_from, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
SECRET = "integration-identity-secret"
RELEASE = threading.Event()


def held(request: TaskRequest) -> dict[str, Any]:
    """A callable backend that works until the test lets it finish."""
    RELEASE.wait(60)
    return {"built_by": request.agent_id, "tokens_used": 1}


@pytest.fixture
def secured(settings: Settings) -> Settings:
    return settings.model_copy(update={"agent_identity_secret": SecretStr(SECRET)})


@pytest.fixture
def assigner(secured: Settings) -> Iterator[Assigner]:
    with running_assigner(secured) as service:
        yield service


def forged(
    goal_id: str, task_id: str, agent: str, producer: str, token: str | None
) -> tuple[Envelope[Any], list[tuple[str, bytes]]]:
    """A TaskSucceeded claiming ``agent``, produced as ``producer``, signed with ``token`` (unsigned if None)."""
    report = new_event(
        TaskSucceeded(task_id=task_id, goal_id=goal_id, agent_id=agent, output={"forged": True}),
        producer=producer,
        stream_id=goal_id,
        correlation_id=goal_id,
    )
    return report, [(SIGNATURE_HEADER, sign(token, encode(report)))] if token else []


def test_forged_reports_are_dead_lettered_and_only_the_holders_result_completes_the_task(
    secured: Settings, assigner: Assigner, producer: EventProducer
) -> None:
    RELEASE.clear()
    tag = unique("identity")
    alice, mallory = f"alice-{tag}", f"mallory-{tag}"
    goal_id, capability = f"goal-{tag}", f"cap-{tag}"
    task_id = f"{goal_id}/build"
    tasks = EventTail(secured, [TASKS_EVENTS])
    reports = EventTail(secured, [AGENTS_REPORTS])
    alice_agent = {
        "id": alice,
        "capabilities": [capability],
        "backend": {"kind": "callable", "target": f"{__name__}:held"},
    }
    try:
        with running_runtime(secured, fleet(f"rt-{tag}", alice_agent)):
            producer.publish(task_created(goal_id, "build", capability))
            producer.flush()
            (assigned,) = tasks.wait_for("TaskAssigned", task_id=task_id, timeout=60)
            assert assigned.payload.agent_id == alice
            tasks.wait_for("TaskStarted", task_id=task_id, agent_id=alice, timeout=60)

            mallory_token = agent_token(SECRET, mallory)
            attempts = {
                "wrong_agent": forged(goal_id, task_id, mallory, producer_name(mallory), mallory_token),
                "bad_signature": forged(goal_id, task_id, alice, producer_name(alice), mallory_token),
                "unsigned_report": forged(goal_id, task_id, alice, producer_name(alice), None),
            }
            for report, headers in attempts.values():
                producer.publish(report, topic=AGENTS_REPORTS, value=encode(report), headers=headers)
            producer.flush()

            forged_ids = {str(report.event_id): reason for reason, (report, _) in attempts.items()}

            def rejected() -> dict[str, str]:
                letters = dead_letters_from(secured, GROUP)
                found = {}
                for letter in letters:
                    event_id = dict(letter.original_headers).get("architect-event-id", b"").decode()
                    if event_id in forged_ids:
                        found[event_id] = letter.reason
                return found

            wait_for(lambda: rejected() == forged_ids, timeout=60, message="the three forged reports dead-lettered")
            letters = [d for d in dead_letters_from(secured, GROUP) if d.source_topic == AGENTS_REPORTS]
            errors = {d.reason: d.error for d in letters if d.reason in forged_ids.values()}
            assert f"assigned to {alice!r}" in errors["wrong_agent"]
            assert "not signed with its credential" in errors["bad_signature"]
            assert "without the agent's signature" in errors["unsigned_report"]
            assert tasks.matching("TaskSucceeded", task_id=task_id) == [], "a forged result became a fact"

            RELEASE.set()
            (done,) = tasks.wait_for("TaskSucceeded", task_id=task_id, timeout=60)
    finally:
        RELEASE.set()
        tasks.close()
    (genuine,) = [r for r in reports.matching("TaskSucceeded", task_id=task_id) if str(r.event_id) not in forged_ids]
    reports.close()
    assert done.event_id == genuine.event_id, "the fact is the agent's report, republished unchanged"
    assert (done.producer, done.payload.output["built_by"]) == (producer_name(alice), alice)
    assert AGENTS_REPORTS not in EVENT_TOPICS, "the projector must never read unchecked reports"
