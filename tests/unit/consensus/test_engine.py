"""The consensus engine: commands and task results in, the aggregate's facts and requests to agents out."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.consensus.engine import EngineOptions, EngineStep, ballot_task_id, decide, parse_ballot_task
from services.consensus.handler import PENDING, DecisionHandler
from services.consensus.track_book import record_verdicts, track_records
from shared.bus.consumer import RejectRecord
from shared.crdt.replication import MergedView
from shared.events.catalogue.decisions import (
    CastVote,
    Contribute,
    DecisionStepDue,
    JudgeDecision,
    RequestDecision,
    ResolveDecision,
)
from shared.events.catalogue.tasks import TaskSucceeded
from shared.events.codec import new_event
from shared.events.envelope import Envelope, Payload

DECISION = "dec-1"
VOTERS = ["a", "b", "c", "d"]
OPTIONS = EngineOptions()


def command(payload: Payload) -> Envelope[Any]:
    return new_event(payload, producer="test", stream_id=DECISION, correlation_id=DECISION)


def request(**overrides: Any) -> Envelope[Any]:
    fields: dict[str, Any] = {
        "decision_id": DECISION,
        "question": "Deploy?",
        "tier": "tactical",
        "electorate": VOTERS,
        "options": ["yes", "no"],
        "ballot_via": "commands",
    }
    return command(RequestDecision(**(fields | overrides)))


def run(inputs: list[Envelope[Any]], now: float = 100.0) -> tuple[dict[str, Any] | None, list[Any]]:
    record: dict[str, Any] | None = None
    emitted: list[Any] = []
    for event in inputs:
        step: EngineStep = decide(record, event, now, OPTIONS)
        record = step.record
        emitted += [getattr(e, "event", e) for e in step.emit]
    return record, emitted


def types(emitted: list[Any]) -> list[str]:
    return [getattr(e, "event", e).type for e in emitted]


def vote(voter: str, choice: str, round_: int = 1) -> Envelope[Any]:
    return command(CastVote(decision_id=DECISION, voter=voter, choice=choice, round=round_, rationale=f"{voter} says"))


def test_a_tactical_supermajority_of_cast_votes_reaches_the_decision_with_every_vote_audited() -> None:
    record, emitted = run([request(), vote("a", "yes"), vote("b", "yes"), vote("c", "yes")])
    assert types(emitted) == [
        "DecisionRequested",
        "RoundOpened",
        "DecisionStepDue",
        "VoteRecorded",
        "VoteRecorded",
        "VoteRecorded",
        "RoundClosed",
        "DecisionReached",
    ]
    reached = emitted[-1].payload
    assert (reached.choice, reached.protocol) == ("yes", "supermajority")
    recorded = [e.payload for e in emitted if e.type == "VoteRecorded"]
    assert [(v.voter, v.weight, v.rationale) for v in recorded] == [
        ("a", 0.5, "a says"),
        ("b", 0.5, "b says"),
        ("c", 0.5, "c says"),
    ]
    assert record is not None and record["decision"]["status"] == "reached"


def test_ballots_through_tasks_ask_each_voter_with_its_own_capability_and_count_task_results() -> None:
    record, emitted = run([request(ballot_via="tasks", tier="operational")])
    tasks = [e.payload for e in emitted if e.type == "TaskCreated"]
    assert [(t.task_id, t.operator, t.capability, t.goal_id) for t in tasks] == [
        (f"{DECISION}/r1:vote/{v}", "vote", f"elector:{v}", DECISION) for v in VOTERS
    ]
    results = [
        command(TaskSucceeded(task_id=t.task_id, goal_id=DECISION, agent_id=t.inputs["voter"], output={"choice": "no"}))
        for t in tasks[:3]
    ]
    seen: list[str] = []
    for result in results:
        step = decide(record, result, 101.0, OPTIONS)
        record, seen = step.record, seen + types(step.emit)
    assert seen.count("VoteRecorded") >= 2 and seen.count("DecisionReached") == 1
    assert record is not None and record["decision"]["outcome"]["choice"] == "no"


def test_a_ballot_answered_by_another_agent_does_not_count() -> None:
    record, emitted = run([request(ballot_via="tasks", tier="operational")])
    task = next(e.payload for e in emitted if e.type == "TaskCreated")
    stolen = command(TaskSucceeded(task_id=task.task_id, goal_id=DECISION, agent_id="mallory", output={"choice": "x"}))
    assert decide(record, stolen, 101.0, OPTIONS).emit == []


def test_handling_the_same_input_twice_emits_nothing_new_and_the_same_ids_on_replay() -> None:
    inputs = [request(), vote("a", "yes"), vote("b", "no")]
    record, first = run(inputs)
    again = decide(record, inputs[-1], 200.0, OPTIONS)
    assert again.emit == []
    _, replayed = run(inputs, now=300.0)
    assert [e.event_id for e in replayed] == [e.event_id for e in first]


def test_an_equivocating_voter_is_flagged_and_its_votes_dropped() -> None:
    _, emitted = run([request(protocol="bft"), vote("a", "yes"), vote("a", "no")])
    detected = [e.payload for e in emitted if e.type == "EquivocationDetected"]
    assert [(d.voter, d.choices) for d in detected] == [("a", ["no", "yes"])]


def test_a_bft_decision_stands_against_an_equivocating_voter() -> None:
    inputs = [request(protocol="bft"), vote("d", "no"), vote("d", "yes"), vote("a", "yes"), vote("b", "yes")]
    _, emitted = run(inputs)
    assert "DecisionReached" not in types(emitted), "the equivocator's vote cannot complete the 2f+1 quorum"
    _, emitted = run([*inputs, vote("c", "yes")])
    reached = [e.payload for e in emitted if e.type == "DecisionReached"]
    assert [(r.choice, r.protocol) for r in reached] == [("yes", "bft")]


def test_the_step_deadline_closes_the_round_and_a_split_tactical_vote_moves_to_a_debate() -> None:
    record, emitted = run([request(), vote("a", "yes"), vote("b", "no")])
    due = next(e for e in emitted if e.type == "DecisionStepDue")
    assert due.payload.step_id == "r1:vote"
    step = decide(record, command(DecisionStepDue(decision_id=DECISION, step_id="r1:vote")), 2000.0, OPTIONS)
    assert types(step.emit)[:2] == ["RoundClosed", "DecisionProgressed"]
    assert "ContributionsRequested" in types(step.emit)


def test_an_escalated_strategic_decision_is_resolved_by_a_human() -> None:
    inputs = [request(tier="strategic", electorate=["a", "b"])]
    record, _ = run(inputs)
    for round_ in range(1, 6):
        for phase in ("propose", "critique", "revise") if round_ == 1 else ("critique", "revise"):
            for agent, position in (("a", "yes"), ("b", "no")):
                contribution = Contribute(
                    decision_id=DECISION, agent=agent, round=round_, phase=phase, text="because", position=position
                )
                step = decide(record, command(contribution), 101.0, OPTIONS)
                record = step.record
    assert record is not None and record["decision"]["status"] == "escalated"
    escalated = [e.payload for e in step.emit if e.type == "DecisionEscalated"]
    assert escalated and escalated[0].requires_approval and escalated[0].positions == {"a": "yes", "b": "no"}
    resolve = command(ResolveDecision(decision_id=DECISION, choice="no", resolved_by="ops"))
    resolved = decide(record, resolve, 102.0, OPTIONS)
    assert [(e.payload.choice, e.payload.decided_by) for e in resolved.emit] == [("no", "ops")]


def test_commands_for_unknown_or_unescalated_decisions_are_rejected_with_a_reason() -> None:
    with pytest.raises(RejectRecord, match="unknown"):
        decide(None, vote("a", "yes"), 1.0, OPTIONS)
    record, _ = run([request()])
    with pytest.raises(RejectRecord, match="not escalated"):
        decide(record, command(ResolveDecision(decision_id=DECISION, choice="yes")), 1.0, OPTIONS)


def test_foreign_tasks_are_ignored() -> None:
    foreign = command(TaskSucceeded(task_id="goal-7/build", goal_id=DECISION, agent_id="x"))
    assert decide(None, foreign, 1.0, OPTIONS).record is None


def test_ballot_task_ids_round_trip() -> None:
    task_id = ballot_task_id("dec:1", "r3:critique", "agent-7")
    assert parse_ballot_task("dec:1", task_id) == (3, "critique", "agent-7")
    assert parse_ballot_task("dec:1", "dec:1/nonsense") is None


class Crash(Exception):
    """The process died while publishing."""


def test_a_crash_mid_publish_is_repaid_with_the_same_ids_on_replay() -> None:
    table: dict[str, Any] = {}
    published: list[Envelope[Any]] = []
    budget = {"left": 1}

    async def flaky(event: Envelope[Any]) -> None:
        if budget["left"] == 0:
            raise Crash
        budget["left"] -= 1
        published.append(event)

    start = request()
    with pytest.raises(Crash):
        asyncio.run(DecisionHandler(table, flaky, OPTIONS, clock=lambda: 10.0)(start))
    assert table[DECISION][PENDING]["cause"] == str(start.event_id)
    budget["left"] = 100
    asyncio.run(DecisionHandler(table, flaky, OPTIONS, clock=lambda: 50.0)(start))
    assert PENDING not in table[DECISION]
    ids = [e.event_id for e in published]
    assert len(ids) == 4 and ids[0] == ids[1], "the first event was re-sent with its id, then the rest"


def test_a_judged_decision_updates_the_voters_track_records_once_and_later_weights_follow() -> None:
    record, _ = run([request(), vote("a", "yes"), vote("b", "yes"), vote("c", "yes")])
    judge = command(JudgeDecision(decision_id=DECISION, correct_choice="no", judged_by="postmortem"))
    step = decide(record, judge, 500.0, OPTIONS)
    (judged,) = [e.payload for e in step.emit]
    assert judged.verdicts == {"a": False, "b": False, "c": False}
    assert decide(step.record, judge, 501.0, OPTIONS).emit == [], "a repeated judgement changes nothing"
    with pytest.raises(RejectRecord, match="judged already"):
        decide(step.record, command(JudgeDecision(decision_id=DECISION, correct_choice="yes")), 502.0, OPTIONS)

    view = MergedView()

    def update(name: str, change: Any) -> Any:
        return view.merge(name, "engine", change(view.get(name)))

    for _ in range(2):  # a redelivery (or a debt paid after a crash) records nothing twice
        record_verdicts(update, DECISION, judged.verdicts)
    record_verdicts(update, "dec-2", {"a": True, "d": True})
    records = track_records(view.get, VOTERS)
    assert {agent: (r.correct, r.total) for agent, r in records.items()} == {
        "a": (1, 2),
        "b": (0, 1),
        "c": (0, 1),
        "d": (1, 1),
    }
    options = EngineOptions(track_records=records)
    opened = decide(
        None, command(RequestDecision(**{**request().payload.model_dump(), "decision_id": "dec-3"})), 1.0, options
    )
    weights = next(e.payload.weights for e in opened.emit if getattr(e, "type", "") == "DecisionRequested")
    assert weights == {"a": 0.5, "b": 1 / 3, "c": 1 / 3, "d": 2 / 3}


def test_an_open_decision_cannot_be_judged() -> None:
    record, _ = run([request()])
    with pytest.raises(RejectRecord, match="still open"):
        decide(record, command(JudgeDecision(decision_id=DECISION, correct_choice="yes")), 1.0, OPTIONS)
