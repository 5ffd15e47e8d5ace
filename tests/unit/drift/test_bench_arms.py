"""The drift benchmark's sessions: mitigations reduce measured drift and cost what the model says."""

import pytest

from bench.drift.__main__ import AGENTS
from bench.drift.arms import fresh, run_session
from services.agent_runtime.scripted_drift import FormatDrift, SemanticDrift
from services.drift_monitor.agent_state import DriftSettings
from services.drift_monitor.thresholds import DriftThresholds, RoleThresholds


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


@pytest.mark.parametrize("kind", [SemanticDrift, FormatDrift])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_slow_drift_is_alerted_by_the_cusum_well_before_the_ema_would(kind, seed) -> None:
    result = run_session("none", "slow", fresh(kind, seed, onset=100, ramp=200), interactions=260)

    assert result.alert_reason.endswith(("cusum)", "outliers)"))
    assert result.detection_delay is not None and 0 < result.detection_delay <= 50
    assert result.stability_delay is not None and result.stability_delay > result.detection_delay + 25
    assert result.alerts_before_onset == 0


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("name", "kind", "onset", "ramp"), AGENTS, ids=[agent[0] for agent in AGENTS])
def test_every_bench_scenario_is_detected_within_fifty_interactions_in_ten_seeds(name, kind, onset, ramp) -> None:
    delays = [
        run_session("none", name, fresh(kind, seed, onset, ramp), onset + 51).detection_delay for seed in range(1, 11)
    ]

    assert all(delay is not None and 0 < delay <= 50 for delay in delays), delays


def test_the_cusum_can_be_switched_off_for_comparison() -> None:
    ema_only = DriftSettings(thresholds=RoleThresholds(default=DriftThresholds(cusum_h=0.0, shift_reset_after=0)))

    result = run_session("none", "format", fresh(FormatDrift, 1, onset=30, ramp=10), 160, ema_only)

    assert result.alert_reason == "stability" and result.detection_delay == result.stability_delay
