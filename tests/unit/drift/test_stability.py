import pytest

from services.drift_monitor.stability import INITIAL_STABILITY, next_stability


def test_stability_starts_fully_stable():
    assert INITIAL_STABILITY == 1.0


def test_one_step_keeps_nine_tenths_of_the_score_and_adds_a_tenth_of_one_minus_drift():
    assert next_stability(0.8, drift=0.3) == pytest.approx(0.9 * 0.8 + 0.1 * 0.7)


def test_a_sustained_drift_pulls_the_score_to_one_minus_drift():
    score = 1.0
    for _ in range(200):
        score = next_stability(score, drift=0.7)

    assert score == pytest.approx(0.3)


def test_a_single_fully_drifted_output_cannot_trigger_an_alert_alone():
    assert next_stability(1.0, drift=1.0) == pytest.approx(0.9)


def test_drift_outside_the_unit_interval_is_clamped():
    assert next_stability(1.0, drift=3.0) == next_stability(1.0, drift=1.0)


def test_decay_must_be_below_one():
    with pytest.raises(ValueError):
        next_stability(1.0, 0.5, decay=1.0)
