"""The drift benchmark's sessions: mitigations reduce measured drift and cost what the model says."""

import pytest

from bench.drift.arms import fresh, run_session
from services.agent_runtime.scripted_drift import FormatDrift


def session(arm: str):
    return run_session(arm, "format", fresh(FormatDrift, 1, onset=30, ramp=10), interactions=160)


def test_resets_and_consolidation_reduce_drift_at_their_cost() -> None:
    none, dar, emc = session("none"), session("dar"), session("emc")
    assert none.first_alert is not None and 0 < none.detection_delay <= 50
    assert dar.mean_drift < none.mean_drift and dar.tasks > none.tasks
    assert emc.mean_drift < none.mean_drift and emc.tasks == none.tasks + 3


def test_an_unknown_arm_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown arm"):
        session("magic")
