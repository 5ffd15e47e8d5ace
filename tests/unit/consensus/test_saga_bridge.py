"""Sagas ask for decisions: a RequestDecision step becomes a decision, and its end becomes the saga's report."""

from __future__ import annotations

from typing import Any

from services.consensus.engine import EngineOptions, decide
from services.consensus.saga_bridge import decision_id_for, request_for, unusable_params_reply
from shared.events.catalogue.decisions import CastVote
from shared.events.catalogue.sagas import SagaStepStarted
from shared.events.codec import new_event
from shared.events.envelope import Envelope, Payload

SAGA = "deploy@prod"
PARAMS = {
    "question": "Is it safe to deploy?",
    "tier": "operational",
    "electorate": ["a", "b", "c"],
    "options": ["yes", "no"],
    "ballot_via": "commands",
    "accept": ["yes"],
    "release": "1.2.3",
}


def envelope(payload: Payload, stream: str) -> Envelope[Any]:
    return new_event(payload, producer="test", stream_id=stream, correlation_id=stream)


def step_started(params: dict[str, Any], action: str = "RequestDecision") -> Envelope[Any]:
    started = SagaStepStarted(
        saga_id=SAGA, step_index=1, step_name="approve", attempt=2, kind="command", action=action, params=params
    )
    return envelope(started, SAGA)


def test_a_decision_step_becomes_a_request_that_knows_where_to_reply() -> None:
    request = request_for(step_started(PARAMS))
    assert request is not None
    assert request.decision_id == decision_id_for(SAGA, "step", 1, 2) == "deploy_prod:s1:a2"
    assert (request.tier, request.electorate, request.requested_by) == ("operational", ["a", "b", "c"], f"saga:{SAGA}")
    assert request.context["reply_to"] == {"saga_id": SAGA, "phase": "step", "step_index": 1, "attempt": 2, "round": 0}
    assert request_for(step_started(PARAMS, action="SomethingElse")) is None


def test_a_decision_step_without_question_or_electorate_fails_at_once() -> None:
    report = unusable_params_reply(step_started({"tier": "tactical"}))
    assert report is not None and report.outcome == "failed" and not report.retryable
    assert unusable_params_reply(step_started(PARAMS)) is None


def run_decision(choices: dict[str, str]) -> list[Envelope[Any]]:
    request = request_for(step_started(PARAMS))
    assert request is not None
    decision_id = request.decision_id
    step = decide(None, envelope(request, decision_id), 1.0, EngineOptions())
    emitted = [getattr(e, "event", e) for e in step.emit]
    for voter, choice in choices.items():
        vote = CastVote(decision_id=decision_id, voter=voter, choice=choice, round=1)
        step = decide(step.record, envelope(vote, decision_id), 2.0, EngineOptions())
        emitted += [getattr(e, "event", e) for e in step.emit]
    return [e for e in emitted if e.type == "ReportSagaActionResult"]


def test_an_accepted_choice_completes_the_step_with_the_choice_as_output() -> None:
    (report,) = run_decision({"a": "yes", "b": "yes"})
    assert report.stream_id == SAGA, "keyed by the saga, like every saga command"
    p = report.payload
    assert (p.outcome, p.step_index, p.attempt, p.output["choice"]) == ("succeeded", 1, 2, "yes")


def test_a_choice_outside_accept_fails_the_step_for_good() -> None:
    (report,) = run_decision({"a": "no", "b": "no"})
    assert (report.payload.outcome, report.payload.retryable) == ("failed", False)
    assert "'no'" in report.payload.error
