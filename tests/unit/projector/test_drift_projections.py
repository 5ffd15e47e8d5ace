"""Drift read models: an agent's stability row follows its episode; alerts, resets and recoveries are history."""

from __future__ import annotations

import json

from services.projector.projections import TABLES, changes_for, fold, row_values
from shared.bus.topics import DRIFT_EVENTS
from shared.events.catalogue import CATALOGUE
from shared.events.catalogue.drift import (
    AgentReset,
    AgentResetRequested,
    BaselineEstablished,
    ConsolidationApplied,
    CoordinationDriftDetected,
    DriftAlert,
    DriftRecovered,
    StabilityScored,
)
from shared.events.codec import new_event


def event(payload: object, stream: str = "a1") -> object:
    return new_event(payload, producer="test", stream_id=stream, correlation_id=stream)


def agent_row(*payloads: object) -> dict:
    folded = fold(change for p in payloads for change in changes_for(event(p)))
    return folded["agent_drift"][("a1",)]


def test_the_agent_row_follows_baseline_scores_alert_reset_and_recovery() -> None:
    baseline = BaselineEstablished(agent_id="a1", role="worker", interaction=20, size=20)
    scored = StabilityScored(
        agent_id="a1", role="worker", interaction=30, stability=0.55, drift=0.8, semantic=0.7, anchors=["x", "y"]
    )
    alert = DriftAlert(agent_id="a1", role="worker", interaction=30, stability=0.55, drift=0.8, threshold=0.6)
    requested = AgentResetRequested(agent_id="a1", role="worker", interaction=33, stability=0.45, threshold=0.5)

    assert agent_row(baseline)["status"] == "stable"
    row = agent_row(baseline, scored, alert)
    assert row["status"] == "alerting" and row["stability"] == 0.55 and row["semantic"] == 0.7
    assert row["anchors"] == 2 and row["interaction"] == 30
    assert agent_row(baseline, scored, alert, requested)["status"] == "resetting"
    reset = agent_row(baseline, scored, alert, requested, AgentReset(agent_id="a1", reason="drift"))
    assert reset["status"] == "baselining" and reset["stability"] == 1.0 and reset["last_reset_at"] is not None
    recovered = DriftRecovered(agent_id="a1", role="worker", interaction=40, stability=0.7)
    assert agent_row(baseline, alert, recovered)["status"] == "stable"


def test_alerts_resets_recoveries_and_consolidations_are_kept_as_history() -> None:
    payloads = [
        DriftAlert(agent_id="a1", role="worker", interaction=30, stability=0.55, drift=0.8, threshold=0.6),
        AgentResetRequested(agent_id="a1", role="worker", interaction=33, stability=0.45, threshold=0.5),
        AgentReset(agent_id="a1", reason="stability 0.45 below 0.5"),
        DriftRecovered(agent_id="a1", role="worker", interaction=40, stability=0.7),
        ConsolidationApplied(agent_id="a1", through=50, summary="parsers", kept=20),
    ]
    history = [c for p in payloads for c in changes_for(event(p)) if c.table == "drift_alerts"]
    assert [c.columns["kind"] for c in history] == ["alert", "reset_requested", "reset", "recovered", "consolidated"]
    assert history[0].columns["threshold"] == 0.6 and history[0].columns["drift"] == 0.8
    assert history[2].columns["details"] == {"reason": "stability 0.45 below 0.5"}
    assert len({c.key for c in history}) == 5


def test_coordination_drift_is_recorded_for_the_fleet_with_its_details() -> None:
    skew = CoordinationDriftDetected(kind="routing_skew", subject="coder-1", details={"share": 0.9})
    [change] = changes_for(event(skew, stream="fleet"))
    assert change.columns["agent_id"] == "fleet"
    values = row_values("drift_alerts", change.key, change.columns)
    details = values[TABLES["drift_alerts"][1].index("details")]
    assert json.loads(details) == {"kind": "routing_skew", "subject": "coder-1", "share": 0.9}


def test_every_projected_drift_event_comes_from_the_drift_topic() -> None:
    for event_type in ("BaselineEstablished", "StabilityScored", "DriftAlert", "AgentReset", "ConsolidationApplied"):
        assert CATALOGUE[event_type].topic == DRIFT_EVENTS
