"""Decision read models from the events the consensus engine emits: the decision row, its rounds, and every
vote received with its weight, rationale and whether it counted."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from services.consensus.engine import EngineOptions, decide
from services.projector.decision_projections import DECISION_TABLES
from services.projector.projections import changes_for, fold
from shared.events.catalogue.decisions import CastVote, RequestDecision
from shared.events.codec import new_event
from shared.events.envelope import Envelope, Payload

DECISION = "dec-9"
MIGRATION = Path(__file__).resolve().parents[3] / "shared/db/migrations/0005_decisions.sql"


def command(payload: Payload) -> Envelope[Any]:
    return new_event(payload, producer="test", stream_id=DECISION, correlation_id=DECISION)


def vote(voter: str, choice: str) -> Envelope[Any]:
    return command(CastVote(decision_id=DECISION, voter=voter, choice=choice, round=1, rationale=f"{voter}: {choice}"))


def rows(*inputs: Envelope[Any]) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    record: dict[str, Any] | None = None
    emitted: list[Envelope[Any]] = []
    for event in inputs:
        step = decide(record, event, 10.0, EngineOptions())
        record = step.record
        emitted += [getattr(e, "event", e) for e in step.emit]
    return fold(change for e in emitted for change in changes_for(e))


def test_a_bft_decision_with_an_equivocator_and_an_outsider_is_fully_audited() -> None:
    request = RequestDecision(
        decision_id=DECISION,
        question="Ship it?",
        tier="tactical",
        electorate=["a", "b", "c", "d"],
        options=["yes", "no"],
        protocol="bft",
        ballot_via="commands",
    )
    folded = rows(
        command(request),
        vote("d", "no"),
        vote("d", "yes"),
        vote("zed", "yes"),
        vote("a", "yes"),
        vote("b", "yes"),
        vote("c", "yes"),
    )
    decision = folded["decisions"][(DECISION,)]
    assert (decision["status"], decision["choice"], decision["decided_protocol"]) == ("reached", "yes", "bft")
    assert decision["electorate"] == ["a", "b", "c", "d"] and decision["weights"]["a"] == 0.5
    votes = folded["decision_votes"]
    assert votes[(DECISION, 1, "a", "yes")]["status"] == "counted"
    assert (
        votes[(DECISION, 1, "a", "yes")]["rationale"] == "a: yes" and votes[(DECISION, 1, "a", "yes")]["weight"] == 0.5
    )
    assert (
        votes[(DECISION, 1, "d", "no")]["status"] == "dropped"
        and votes[(DECISION, 1, "d", "yes")]["status"] == "dropped"
    )
    assert votes[(DECISION, 1, "zed", "yes")]["status"] == "rejected"
    round_row = folded["decision_rounds"][(DECISION, 1)]
    assert round_row["protocol"] == "bft" and round_row["outcome_choice"] == "yes" and round_row["flagged"] == ["d"]


def test_the_migration_creates_every_projected_column() -> None:
    sql = MIGRATION.read_text()
    for table, (_, columns) in DECISION_TABLES.items():
        body = re.search(rf"CREATE TABLE {table} \((.*?)\n\);", sql, re.S)
        assert body is not None, table
        declared = {
            line.split()[0] for line in body.group(1).strip().splitlines() if not line.strip().startswith("PRIMARY")
        }
        assert declared == set(columns), table
