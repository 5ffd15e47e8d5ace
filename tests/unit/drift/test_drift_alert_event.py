"""DriftAlert v2 names its detector: v1 records read as stability alerts; the history keeps the reason."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from services.agent_runtime.drift_control import reset
from services.projector.projections import changes_for
from shared.events.catalogue import CATALOGUE
from shared.events.catalogue.drift import AgentResetRequested, DriftAlert
from shared.events.codec import decode, encode, new_event


def test_a_version_1_alert_is_read_as_a_stability_alert() -> None:
    old = {
        "type": "DriftAlert",
        "version": 1,
        "producer": "drift-monitor",
        "stream_id": "a1",
        "correlation_id": "a1",
        "payload": {
            "agent_id": "a1",
            "role": "worker",
            "interaction": 30,
            "stability": 0.55,
            "drift": 0.8,
            "threshold": 0.6,
        },
    }

    envelope = decode(json.dumps(old).encode())

    assert CATALOGUE["DriftAlert"].version == 2
    assert envelope.version == 2 and envelope.upcast_from == 1
    assert envelope.payload.reason == "stability" and envelope.payload.component is None


def test_a_cusum_alert_round_trips_and_its_history_row_names_the_component() -> None:
    alert = DriftAlert(
        agent_id="a1",
        role="worker",
        interaction=40,
        stability=0.8,
        drift=0.3,
        threshold=0.6,
        reason="cusum",
        component="format",
        statistic=15.0,
        limit=14.0,
    )
    envelope = new_event(alert, producer="test", stream_id="a1", correlation_id="a1")

    assert decode(encode(envelope)).payload == alert
    [history] = [c for c in changes_for(envelope) if c.table == "drift_alerts"]
    assert history.columns["details"] == {"reason": "cusum", "component": "format", "statistic": 15.0, "limit": 14.0}


def test_a_version_1_reset_request_is_read_as_a_stability_reset() -> None:
    old = {
        "type": "AgentResetRequested",
        "version": 1,
        "producer": "drift-monitor",
        "stream_id": "a1",
        "correlation_id": "a1",
        "payload": {"agent_id": "a1", "role": "worker", "interaction": 33, "stability": 0.45, "threshold": 0.5},
    }

    envelope = decode(json.dumps(old).encode())

    assert envelope.version == 2 and envelope.payload.reason == "stability" and envelope.payload.component is None


def test_a_shift_reset_request_names_its_component_in_the_history_and_the_runtime_reason() -> None:
    request = AgentResetRequested(
        agent_id="a1", role="worker", interaction=60, stability=0.7, threshold=0.5, reason="shift", component="tools"
    )
    envelope = new_event(request, producer="test", stream_id="a1", correlation_id="a1")

    [history] = [c for c in changes_for(envelope) if c.table == "drift_alerts"]
    assert history.columns["details"] == {"reason": "shift", "component": "tools"}
    assert reset(object(), request).reason == "tools drift shift persisting at interaction 60"


def test_an_unknown_detector_is_refused() -> None:
    with pytest.raises(ValidationError, match="reason"):
        DriftAlert(agent_id="a1", role="w", interaction=1, stability=1, drift=0, threshold=0.6, reason="hunch")
