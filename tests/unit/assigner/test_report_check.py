"""Per-agent identity: a report about a task becomes a fact only when it comes from the agent holding the attempt,
under that agent's identity (its producer name, and its signature when the deployment has an identity secret)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.assigner.report_check import check_report
from services.assigner.task_book import TrackedTask
from shared.agent_identity import (
    AgentTokensError,
    agent_token,
    parse_tokens,
    producer_name,
    sign,
    tokens_for,
    verify,
)
from shared.events.catalogue.tasks import TaskFailed, TaskStarted, TaskSucceeded
from shared.events.catalogue.work import FindingPosted
from shared.events.codec import encode, new_event
from shared.events.envelope import Envelope, Payload

SECRET = "identity-secret"


def report(payload: Payload, producer: str | None = None) -> Envelope[Any]:
    agent = getattr(payload, "agent_id", "a1")
    return new_event(payload, producer=producer or producer_name(agent), stream_id="g1", correlation_id="g1")


def task(*holders: tuple[int, str]) -> TrackedTask:
    t = TrackedTask(task_id="g1/build", goal_id="g1", operator="build", capability="code", created_at=0.0)
    for attempt, agent in holders:
        t = (
            t.assigned(agent)
            if attempt == t.attempt
            else t.waiting_for_retry().retry_due(t.attempt + 1).assigned(agent)
        )
    return t


def succeeded(agent: str = "alice", attempt: int = 1) -> Envelope[Any]:
    return report(TaskSucceeded(task_id="g1/build", goal_id="g1", agent_id=agent, attempt=attempt))


@pytest.mark.parametrize(
    "payload",
    [
        TaskStarted(task_id="g1/build", goal_id="g1", agent_id="alice"),
        TaskSucceeded(task_id="g1/build", goal_id="g1", agent_id="alice"),
        TaskFailed(task_id="g1/build", goal_id="g1", agent_id="alice", error_class="crash"),
    ],
)
def test_a_signed_report_by_the_holder_is_accepted(payload: Payload) -> None:
    assert check_report(report(payload), task((1, "alice")), "valid") is None


def test_without_an_identity_secret_the_assignment_is_still_checked() -> None:
    assert check_report(succeeded(), task((1, "alice")), "unchecked") is None
    rejection = check_report(succeeded("mallory"), task((1, "alice")), "unchecked")
    assert rejection is not None and rejection.reason == "wrong_agent"


@pytest.mark.parametrize(
    ("envelope", "verdict", "reason", "words"),
    [
        (succeeded("mallory"), "valid", "wrong_agent", "from 'mallory', but the attempt is assigned to 'alice'"),
        (
            report(TaskSucceeded(task_id="g1/build", goal_id="g1", agent_id="alice"), producer="agent-runtime/mallory"),
            "valid",
            "identity_mismatch",
            "names agent 'alice' but was produced by 'agent-runtime/mallory'",
        ),
        (succeeded(), "invalid", "bad_signature", "claims agent 'alice' but is not signed with its credential"),
        (succeeded(), "missing", "unsigned_report", "claims agent 'alice' without the agent's signature"),
        (succeeded(attempt=2), "valid", "not_assigned", "attempt 2 from 'alice': that attempt was never assigned"),
        (
            report(FindingPosted(goal_id="g1", task_id="g1/build", agent_id="alice", topic="cause")),
            "valid",
            "unexpected_report",
            "FindingPosted is not an agent report",
        ),
    ],
    ids=["wrong-agent", "producer-mismatch", "bad-signature", "unsigned", "unassigned-attempt", "not-a-report"],
)
def test_a_forged_or_misdirected_report_is_rejected_with_the_reason(
    envelope: Envelope[Any], verdict: Any, reason: str, words: str
) -> None:
    rejection = check_report(envelope, task((1, "alice")), verdict)
    assert rejection is not None
    assert rejection.reason == reason
    assert words in rejection.error


def test_a_report_about_a_task_without_an_open_assignment_is_rejected() -> None:
    rejection = check_report(succeeded(), None, "valid")
    assert rejection is not None and rejection.reason == "unknown_task"


def test_a_late_report_of_an_earlier_attempt_is_checked_against_that_attempts_holder() -> None:
    retried = task((1, "alice"), (2, "bob"))
    assert check_report(succeeded("alice", attempt=1), retried, "valid") is None
    assert check_report(succeeded("bob", attempt=2), retried, "valid") is None
    rejection = check_report(succeeded("alice", attempt=2), retried, "valid")
    assert rejection is not None and rejection.reason == "wrong_agent"


def test_holders_survive_the_state_topic_and_old_state_keeps_its_current_holder() -> None:
    retried = task((1, "alice"), (2, "bob"))
    assert TrackedTask.from_dict(retried.to_dict()) == retried
    old = {k: v for k, v in task((1, "alice")).to_dict().items() if k != "holders"}
    assert TrackedTask.from_dict(old).holder_of(1) == "alice"


def test_a_signature_verifies_only_for_its_agent_and_its_bytes() -> None:
    value = encode(succeeded())
    signature = sign(agent_token(SECRET, "alice"), value)
    assert verify(SECRET, "alice", value, signature) == "valid"
    assert verify(SECRET, "mallory", value, signature) == "invalid"
    assert verify(SECRET, "alice", value + b" ", signature) == "invalid"
    assert verify("another-secret", "alice", value, signature) == "invalid"
    assert verify(SECRET, "alice", value, None) == "missing"
    assert verify(None, "alice", value, None) == "unchecked"


@given(st.text(min_size=1, max_size=30), st.text(min_size=1, max_size=30))
def test_one_agents_token_never_signs_for_another(agent: str, other: str) -> None:
    value = b"report"
    forged = sign(agent_token(SECRET, agent), value)
    assert verify(SECRET, other, value, forged) == ("valid" if agent == other else "invalid")


def test_runtime_tokens_come_from_configuration_or_the_secret() -> None:
    configured = parse_tokens(" alice = t-alice , ,bob=t-bob")
    assert configured == {"alice": "t-alice", "bob": "t-bob"}
    assert tokens_for(["alice", "carol"], None, configured) == {"alice": "t-alice"}
    assert tokens_for(["alice", "carol"], SECRET, configured) == {
        "alice": "t-alice",
        "carol": agent_token(SECRET, "carol"),
    }


def test_malformed_tokens_are_an_error_that_never_contains_a_token() -> None:
    with pytest.raises(AgentTokensError, match="entry 2") as raised:
        parse_tokens("alice=t-alice,secret-token-only")
    assert "secret-token-only" not in str(raised.value)
