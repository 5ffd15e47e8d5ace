"""Decision signal handling: audit trail, rejections, deadlines, redelivery, serialisation, replay."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from services.consensus.actions import DecisionEscalated, DecisionReached, RequestContributions
from services.consensus.debate import Contribution, Phase
from services.consensus.decision import DebateStep, Decision, DecisionRequest, VoteStep, replay
from services.consensus.protocols import Vote
from services.consensus.tiers import TIERS
from services.consensus.track_record import TrackRecord
from tests.unit.consensus.driving import Signal, apply, debate_round, feed, open_decision, votes

SPLIT = {"a": "x", "b": "x", "c": "y", "d": "y"}


def kinds(decision: Decision) -> list[str]:
    return [entry.kind for entry in decision.audit]


# -- audit trail ------------------------------------------------------------------------------------


def test_every_accepted_vote_is_audited_with_weight_rationale_round_and_term() -> None:
    decision = open_decision("tactical", records={"a": TrackRecord(3, 4)}).decision
    decision, _ = feed(decision, votes(SPLIT))
    audited = [e.details for e in decision.audit if e.kind == "vote"]
    assert audited[0] == {
        "voter": "a",
        "choice": "x",
        "weight": 4 / 6,
        "rationale": "a thinks x",
        "round": 1,
        "term": 0,
    }
    assert [d["voter"] for d in audited] == ["a", "b", "c", "d"]
    assert all(d["weight"] == 0.5 for d in audited[1:])


def test_a_weight_declared_by_the_voter_is_replaced_by_its_track_record_weight() -> None:
    decision = open_decision("tactical").decision
    decision, _ = feed(decision, [Vote("a", "x", weight=100.0)])
    assert decision.votes_of(1)[0].weight == 0.5


def test_the_request_and_the_final_result_are_audited() -> None:
    decision, _ = feed(open_decision("tactical").decision, votes({"a": "x", "b": "x", "c": "x"}))
    assert kinds(decision)[0] == "requested"
    assert kinds(decision)[-2:] == ["round_closed", "reached"]


def test_votes_from_outsiders_or_for_unknown_options_are_rejected_and_audited_once() -> None:
    decision = open_decision("tactical").decision
    bad = [Vote("mallory", "x"), Vote("a", "maybe"), Vote("mallory", "x")]
    decision, actions = feed(decision, bad)
    assert actions == []
    assert decision.votes_of(1) == ()
    assert kinds(decision).count("vote_rejected") == 2


def test_a_vote_for_a_round_that_is_not_open_is_ignored_and_audited() -> None:
    decision, _ = feed(open_decision("tactical").decision, [Vote("a", "x", round=7)])
    assert decision.votes_of(7) == ()
    assert "vote_ignored" in kinds(decision)


def test_an_equivocating_voter_is_audited_and_flagged_in_the_outcome() -> None:
    decision = open_decision("tactical").decision
    decision, _ = feed(decision, [Vote("d", "x"), Vote("d", "y"), *votes({"a": "x", "b": "x", "c": "y"})])
    assert "equivocation" in kinds(decision)
    closed = next(e for e in decision.audit if e.kind == "round_closed")
    assert closed.details["outcome"]["flagged"] == ["d"]


def test_a_late_vote_after_the_decision_is_audited_but_changes_nothing() -> None:
    decision, _ = feed(open_decision("tactical").decision, votes({"a": "x", "b": "x", "c": "x"}))
    decision, actions = feed(decision, [Vote("d", "y")])
    assert actions == []
    assert decision.choice == "x"
    assert kinds(decision)[-1] == "vote_ignored"


def test_a_contribution_with_a_position_outside_the_options_is_rejected() -> None:
    decision = open_decision("strategic").decision
    decision, _ = feed(decision, [Contribution("a", 1, Phase.PROPOSE, "hm", "maybe")])
    assert decision.debates[-1].contributions == ()
    assert "contribution_rejected" in kinds(decision)


# -- deadlines --------------------------------------------------------------------------------------


def test_a_step_deadline_closes_the_vote_round_with_the_votes_cast() -> None:
    decision, _ = feed(open_decision("tactical").decision, votes({"a": "x", "b": "x"}))
    decision, actions = feed(decision, ["r1:vote"], now=900.0)
    assert decision.choice == "x"
    assert isinstance(actions[-1], DecisionReached)


def test_a_stale_deadline_signal_changes_nothing() -> None:
    decision, _ = feed(open_decision("tactical").decision, votes(SPLIT))
    again, actions = feed(decision, ["r1:vote"], now=900.0)
    assert actions == []
    assert again == decision


def test_a_debate_phase_deadline_moves_on_without_the_silent_agents() -> None:
    decision, _ = feed(open_decision("strategic").decision, [Contribution("a", 1, Phase.PROPOSE, "go", "x")])
    decision, actions = feed(decision, ["r1:propose"], now=1800.0)
    (request,) = actions
    assert isinstance(request, RequestContributions)
    assert request.phase == Phase.CRITIQUE
    assert request.deadline == 3600.0


def test_step_deadlines_never_exceed_the_decision_deadline() -> None:
    (action,) = open_decision("strategic", deadline=100.0).actions
    assert isinstance(action, RequestContributions)
    assert action.deadline == 100.0


def test_when_the_decision_deadline_passes_waiting_stages_are_skipped_and_it_escalates() -> None:
    decision, _ = feed(open_decision("tactical", deadline=50.0).decision, votes({"a": "x", "b": "y"}))
    decision, actions = feed(decision, ["r1:vote"], now=50.0)
    assert isinstance(actions[-1], DecisionEscalated)
    assert "deadline" in actions[-1].reason
    assert "stage_skipped" in kinds(decision)


def test_a_deadline_during_the_debate_still_lets_the_final_positions_be_counted() -> None:
    decision, _ = feed(open_decision("tactical", deadline=50.0).decision, votes(SPLIT))
    decision, _ = debate_round(decision, SPLIT, {"a": "x", "b": "x", "c": "x", "d": "y"}, now=10.0)
    decision, actions = feed(decision, [decision.current_step_id or ""], now=50.0)
    assert isinstance(actions[-1], DecisionReached)
    assert decision.choice == "x"
    assert decision.outcome is not None and decision.outcome.protocol == "weighted+leader"


# -- serialisation, replay, redelivery --------------------------------------------------------------


def test_a_decision_round_trips_through_json_at_every_step() -> None:
    decision = open_decision("tactical").decision
    signals: list[Signal] = [*votes(SPLIT), Vote("a", "y")]
    for signal in signals:
        decision = apply(decision, signal, 1.0).decision
        assert Decision.from_dict(json.loads(json.dumps(decision.to_dict()))) == decision
    decision, _ = debate_round(decision, SPLIT, SPLIT)
    assert Decision.from_dict(json.loads(json.dumps(decision.to_dict()))) == decision


def test_a_transition_leaves_the_previous_decision_untouched() -> None:
    decision = open_decision("tactical").decision
    before = decision.to_dict()
    decision.cast(Vote("a", "x"), 1.0)
    assert decision.to_dict() == before


def test_replaying_the_same_log_rebuilds_the_same_decision_and_actions() -> None:
    request = DecisionRequest("dec-9", "?", "tactical", ("a", "b", "c", "d"), ("x", "y"))
    log: list[tuple[float, Vote | Contribution | str]] = [(1.0, v) for v in votes(SPLIT)]
    log += [(2.0, Contribution(agent, 2, Phase.PROPOSE, "p", SPLIT[agent])) for agent in "abcd"]
    assert replay(request, log) == replay(request, log)


@st.composite
def signal_logs(draw: st.DrawFn) -> tuple[DecisionRequest, list[tuple[float, Signal]]]:
    """A decision and a log of signals aimed at whatever it was waiting for, plus junk and stale ones."""
    options = draw(st.sampled_from([("x", "y"), None]))
    request = DecisionRequest("dec-p", "?", draw(st.sampled_from(TIERS)), ("a", "b", "c", "d"), options)
    decision = Decision.open(request, 0.0).decision
    log: list[tuple[float, Signal]] = []
    agents = st.sampled_from(request.electorate)
    choices = st.sampled_from(["x", "y"])
    for now in range(1, draw(st.integers(0, 40)) + 1):
        step = decision.step
        if step is None:
            break
        kind = draw(st.sampled_from(["signal", "signal", "signal", "signal", "deadline", "junk", "stale"]))
        signal: Signal
        if kind == "deadline":
            signal = step.step_id
        elif kind == "stale" and step.round > 1:
            past = step.round - 1
            signal = draw(
                st.sampled_from(
                    [Vote(draw(agents), draw(choices), round=past), Contribution(draw(agents), past, Phase.REVISE)]
                )
            )
        elif kind != "signal":
            signal = Vote("mallory", "x", round=step.round)
        elif isinstance(step, VoteStep):
            signal = Vote(draw(agents), draw(choices), rationale=draw(st.sampled_from(["", "why"])), round=step.round)
        else:
            assert isinstance(step, DebateStep)
            phase = decision.debates[-1].phase
            position = None if phase == Phase.CRITIQUE else draw(choices)
            signal = Contribution(draw(agents), step.round, phase, draw(st.sampled_from(["t", "u"])), position)
        log.append((float(now), signal))
        decision = apply(decision, signal, float(now)).decision
    return request, log


@given(signal_logs(), st.data())
@settings(max_examples=40, deadline=None)
def test_redelivered_signals_change_neither_the_decision_nor_the_actions(
    scenario: tuple[DecisionRequest, list[tuple[float, Signal]]], data: st.DataObject
) -> None:
    request, log = scenario
    once = replay(request, log)
    with_duplicates: list[tuple[float, Signal]] = []
    for now, signal in log:
        with_duplicates += [(now, signal)] * data.draw(st.integers(1, 3))
    late = data.draw(st.lists(st.sampled_from(log), max_size=6)) if log else []
    with_duplicates += [(1000.0, signal) for _, signal in late]
    assert replay(request, with_duplicates) == once
