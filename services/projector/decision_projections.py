"""Decision read models: ``decisions`` (one row each), ``decision_rounds``, ``decision_votes`` (every vote received,
with weight, rationale and whether it counted) and ``decision_contributions`` (the debate).

Every column here is written from ``architect.decisions.events`` only: votes and contributions that arrive as
task results are restated by the consensus engine as decision events, so one ordered stream per decision
decides each row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from shared.events.envelope import Envelope

if TYPE_CHECKING:
    from services.projector.projections import RowChange

Projector = Callable[[Envelope[Any]], Iterable["RowChange"]]

DECISION_TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "decisions": (
        ("decision_id",),
        (
            "decision_id",
            "question",
            "tier",
            "status",
            "electorate",
            "options",
            "protocol_override",
            "ballot_via",
            "requested_by",
            "policy",
            "weights",
            "current_round",
            "choice",
            "decided_protocol",
            "decided_by",
            "final_tally",
            "reason",
            "requires_approval",
            "positions",
            "deadline",
            "created_at",
            "decided_at",
            "updated_at",
        ),
    ),
    "decision_rounds": (
        ("decision_id", "round"),
        (
            "decision_id",
            "round",
            "kind",
            "protocol",
            "term",
            "deadline",
            "opened_at",
            "closed_at",
            "why",
            "outcome_choice",
            "round_tally",
            "round_reasons",
            "flagged",
            "updated_at",
        ),
    ),
    "decision_votes": (
        ("decision_id", "round", "voter", "choice"),
        (
            "decision_id",
            "round",
            "voter",
            "choice",
            "weight",
            "rationale",
            "term",
            "status",
            "reason",
            "recorded_at",
            "updated_at",
        ),
    ),
    "decision_contributions": (
        ("decision_id", "round", "phase", "agent"),
        ("decision_id", "round", "phase", "agent", "text", "position", "status", "reason", "updated_at"),
    ),
}
DECISION_JSON_COLUMNS = {
    "electorate",
    "options",
    "policy",
    "weights",
    "final_tally",
    "positions",
    "round_tally",
    "round_reasons",
    "flagged",
}


def _row(table: str, key: tuple[Any, ...], e: Envelope[Any], **columns: Any) -> RowChange:
    # Imported here: projections.py registers this module's tables at its end, so a top-level import would cycle.
    from services.projector.projections import RowChange

    return RowChange(table, key, {"updated_at": e.occurred_at, **columns})


def _decision(e: Envelope[Any], **columns: Any) -> RowChange:
    return _row("decisions", (e.payload.decision_id,), e, **columns)


def _requested(e: Envelope[Any]) -> Iterable[RowChange]:
    p = e.payload
    yield _decision(
        e,
        question=p.question,
        tier=p.tier,
        status="open",
        electorate=list(p.electorate),
        options=p.options,
        protocol_override=p.protocol,
        ballot_via=p.ballot_via,
        requested_by=p.requested_by,
        policy=p.policy,
        weights=p.weights,
        deadline=p.deadline,
        created_at=e.occurred_at,
    )


def _round_opened(e: Envelope[Any]) -> Iterable[RowChange]:
    p = e.payload
    yield _decision(e, current_round=p.round)
    kind = "vote" if p.ballot == "fresh" else "vote_on_debate_positions"
    yield _row(
        "decision_rounds",
        (p.decision_id, p.round),
        e,
        kind=kind,
        protocol=p.protocol,
        term=p.term,
        deadline=p.deadline,
        opened_at=e.occurred_at,
    )


def _contributions_requested(e: Envelope[Any]) -> Iterable[RowChange]:
    p = e.payload
    yield _decision(e, current_round=p.round)
    yield _row(
        "decision_rounds",
        (p.decision_id, p.round),
        e,
        kind="debate",
        protocol="debate",
        deadline=p.deadline,
        opened_at=e.occurred_at,
    )


def _round_closed(e: Envelope[Any]) -> Iterable[RowChange]:
    p = e.payload
    yield _row(
        "decision_rounds",
        (p.decision_id, p.round),
        e,
        closed_at=e.occurred_at,
        why=p.why,
        outcome_choice=p.choice,
        round_tally=p.tally,
        round_reasons=list(p.reasons),
        flagged=list(p.flagged),
    )


def _vote_recorded(e: Envelope[Any]) -> Iterable[RowChange]:
    p = e.payload
    yield _row(
        "decision_votes",
        (p.decision_id, p.round, p.voter, p.choice),
        e,
        weight=p.weight,
        rationale=p.rationale,
        term=p.term,
        status="dropped" if p.equivocation else "counted",
        reason="its voter equivocated in this round" if p.equivocation else "",
        recorded_at=e.occurred_at,
    )


def _vote_rejected(e: Envelope[Any]) -> Iterable[RowChange]:
    p = e.payload
    yield _row(
        "decision_votes",
        (p.decision_id, p.round, p.voter, p.choice),
        e,
        status=p.disposition,
        reason=p.reason,
        recorded_at=e.occurred_at,
    )


def _equivocation(e: Envelope[Any]) -> Iterable[RowChange]:
    p = e.payload
    for choice in p.choices:
        yield _row(
            "decision_votes",
            (p.decision_id, p.round, p.voter, choice),
            e,
            status="dropped",
            reason="its voter equivocated in this round",
        )


def _contribution(e: Envelope[Any]) -> Iterable[RowChange]:
    p = e.payload
    yield _row(
        "decision_contributions",
        (p.decision_id, p.round, p.phase, p.agent),
        e,
        text=p.text,
        position=p.position,
        status="accepted",
        reason="",
    )


def _contribution_rejected(e: Envelope[Any]) -> Iterable[RowChange]:
    p = e.payload
    yield _row(
        "decision_contributions", (p.decision_id, p.round, p.phase, p.agent), e, status=p.disposition, reason=p.reason
    )


def _reached(e: Envelope[Any]) -> Iterable[RowChange]:
    p = e.payload
    reason = "; ".join(p.reasons)
    yield _decision(
        e,
        status="reached",
        choice=p.choice,
        decided_protocol=p.protocol,
        decided_by=p.decided_by,
        final_tally=p.tally,
        reason=reason,
        decided_at=e.occurred_at,
    )


def _escalated(e: Envelope[Any]) -> Iterable[RowChange]:
    p = e.payload
    yield _decision(
        e,
        status="escalated",
        reason=p.reason,
        requires_approval=p.requires_approval,
        positions=p.positions,
    )


DECISION_PROJECTORS: dict[str, Projector] = {
    "DecisionRequested": _requested,
    "RoundOpened": _round_opened,
    "ContributionsRequested": _contributions_requested,
    "RoundClosed": _round_closed,
    "VoteRecorded": _vote_recorded,
    "VoteRejected": _vote_rejected,
    "EquivocationDetected": _equivocation,
    "ContributionRecorded": _contribution,
    "ContributionRejected": _contribution_rejected,
    "DecisionReached": _reached,
    "DecisionEscalated": _escalated,
}
