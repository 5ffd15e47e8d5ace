"""The CUSUM shift detector: quick on a sustained shift, silent on stationary noise, tuned per role."""

import json
import random

import pytest

from services.drift_monitor.shift_detector import (
    BASELINE_GUARD,
    COMPONENTS,
    ComponentStats,
    CusumParameters,
    ShiftDetector,
)
from services.drift_monitor.thresholds import DriftThresholds, RoleThresholds

STATS = {c: ComponentStats(mean=0.03, sigma=0.05) for c in COMPONENTS}
PARAMS = CusumParameters()


def scores(semantic: float, format: float = 0.0, tools: float = 0.0) -> dict[str, float]:
    return {"semantic": semantic, "format": format, "tools": tools}


def noise(rng: random.Random) -> float:
    # Zero-inflated like a calibrated semantic score: half the outputs at 0, the rest spread to the right.
    return 0.0 if rng.random() < 0.5 else min(1.0, rng.expovariate(1 / 0.06))


def first_alarm(detector: ShiftDetector, series: list[dict[str, float]], params: CusumParameters = PARAMS):
    for i, s in enumerate(series, start=1):
        alarms = detector.update(s, params)
        if alarms:
            return i, alarms
    return None, []


def test_component_statistics_are_the_mean_and_sample_deviation() -> None:
    stats = ComponentStats.of([0.0, 0.1, 0.2])

    assert stats.mean == pytest.approx(0.1)
    assert stats.sigma == pytest.approx(0.1)


def test_a_step_shift_of_two_sigmas_is_detected_within_twenty_interactions() -> None:
    rng = random.Random(7)
    series = [scores(noise(rng)) for _ in range(50)] + [scores(0.13 + noise(rng) / 3) for _ in range(50)]

    at, [alarm] = first_alarm(ShiftDetector(STATS), series)

    assert at is not None and 50 < at <= 70
    assert alarm.component == "semantic" and alarm.statistic > alarm.limit == PARAMS.h


def estimated(sample: list[float]) -> dict[str, ComponentStats]:
    # Estimated from 20 samples, as a baseline's would be, so they are off a little.
    return dict.fromkeys(COMPONENTS, ComponentStats.of(sample, BASELINE_GUARD))


@pytest.mark.parametrize("seed", range(5))
def test_stationary_gaussian_noise_raises_no_alarm_over_twenty_thousand_samples(seed: int) -> None:
    rng = random.Random(seed)

    def gauss() -> float:
        return max(0.0, rng.gauss(0.05, 0.04))

    stats = estimated([gauss() for _ in range(20)])
    series = [scores(gauss(), gauss(), gauss()) for _ in range(20_000)]

    assert first_alarm(ShiftDetector(stats), series) == (None, [])


def test_skewed_stationary_noise_on_every_channel_rarely_alarms_within_a_thousand_samples() -> None:
    # Heavier-tailed than the scripted agents' scores, and noisy on all three channels at once.
    rng = random.Random(3)
    agents = 40
    alarmed = 0
    for _ in range(agents):
        stats = estimated([noise(rng) for _ in range(20)])
        series = [scores(noise(rng), noise(rng), noise(rng)) for _ in range(1000)]
        alarmed += first_alarm(ShiftDetector(stats), series)[0] is not None

    assert alarmed <= 1


def test_a_single_outlier_never_alarms_on_its_own() -> None:
    detector = ShiftDetector(STATS)
    series = [scores(0.0)] * 10 + [scores(0.0, format=1.0)] + [scores(0.0)] * 30

    assert first_alarm(detector, series) == (None, [])
    assert detector.sums["format"] == 0.0


def test_a_channel_that_never_varied_alarms_after_a_few_deviations_close_together() -> None:
    still = {c: ComponentStats(0.0, 0.0) for c in COMPONENTS}
    series = [scores(0.0)] * 10 + [scores(0.0, format=1.0), scores(0.0), scores(0.0, format=1.0)]

    at, [alarm] = first_alarm(ShiftDetector(still), series)

    assert at == 13 and alarm.component == "format"


def test_a_component_stays_shifted_until_its_evidence_is_spent() -> None:
    detector = ShiftDetector(STATS)
    first_alarm(detector, [scores(0.5)] * 10)
    assert detector.shifted == {"semantic"}

    assert detector.update(scores(0.5), PARAMS) == []  # one alarm per shift
    for _ in range(int(1.5 * PARAMS.h / PARAMS.k) + 1):
        detector.update(scores(0.0), PARAMS)
    assert not detector.any_shifted


def test_a_disabled_detector_never_alarms() -> None:
    off = CusumParameters(h=0.0)

    assert first_alarm(ShiftDetector(STATS), [scores(1.0, 1.0, 1.0)] * 100, off) == (None, [])


def test_a_decision_interval_that_one_output_could_cross_is_refused() -> None:
    with pytest.raises(ValueError, match="one output"):
        CusumParameters(h=5.0, clip=10.0)


def test_thresholds_carry_the_detector_knobs_per_role() -> None:
    config = {"default": {"cusum_h": 20}, "roles": {"architect": {"cusum_h": 10, "cusum_k": 0.5}}}

    by_role = RoleThresholds.from_dict(config)

    assert by_role.for_role("worker").cusum == CusumParameters(h=20.0)
    assert by_role.for_role("architect").cusum == CusumParameters(h=10.0, k=0.5)
    assert DriftThresholds.from_dict(DriftThresholds(cusum_h=9).to_dict()) == DriftThresholds(cusum_h=9)


def test_a_role_with_a_tighter_decision_interval_alarms_sooner() -> None:
    series = [scores(0.0)] * 20 + [scores(0.15)] * 40
    strict, lax = CusumParameters(h=10.0), CusumParameters(h=24.0)

    strict_at, _ = first_alarm(ShiftDetector(STATS), series, strict)
    lax_at, _ = first_alarm(ShiftDetector(STATS), series, lax)

    assert strict_at is not None and lax_at is not None and strict_at < lax_at


def test_the_detector_survives_a_json_round_trip() -> None:
    detector = ShiftDetector(STATS)
    first_alarm(detector, [scores(0.3)] * 5)

    restored = ShiftDetector.from_dict(json.loads(json.dumps(detector.to_dict())))

    assert restored.to_dict() == detector.to_dict()
    assert restored.update(scores(0.3), PARAMS) == detector.update(scores(0.3), PARAMS)


def test_rare_total_deviations_alarm_once_more_than_one_falls_in_the_window() -> None:
    # A channel that never varied: each deviation is an outlier (z at the clip). Far apart, the CUSUM forgets
    # the first before the second comes; the outlier count still sees both within its window.
    still = {c: ComponentStats(0.0, 0.0) for c in COMPONENTS}
    series = [scores(0.0)] * 10 + [scores(0.0, format=1.0)] + [scores(0.0)] * 25 + [scores(0.0, format=1.0)]

    at, [alarm] = first_alarm(ShiftDetector(still), series)

    assert at == 37
    assert (alarm.component, alarm.test, alarm.statistic, alarm.limit) == ("format", "outliers", 2, 1)


def test_outliers_further_apart_than_the_window_never_alarm() -> None:
    still = {c: ComponentStats(0.0, 0.0) for c in COMPONENTS}
    odd = [scores(0.0, format=1.0)] + [scores(0.0)] * PARAMS.outlier_window
    detector = ShiftDetector(still)

    assert first_alarm(detector, odd * 20) == (None, [])
    assert first_alarm(ShiftDetector(still), odd * 20, CusumParameters(outlier_window=0)) == (None, [])


def test_an_outlier_allowance_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="one outlier never alarms alone"):
        CusumParameters(outlier_limit=0)


def test_the_vocabulary_channel_alarms_in_the_name_of_the_semantic_component() -> None:
    detector = ShiftDetector({**STATS, "vocabulary": ComponentStats(0.0, 0.0)})
    series = [{**scores(0.0), "vocabulary": 0.0}] * 10 + [{**scores(0.0), "vocabulary": 0.2}] * 10

    at, [alarm] = first_alarm(detector, series)

    assert at is not None and 10 < at <= 16
    assert (alarm.component, alarm.channel, alarm.test) == ("semantic", "vocabulary", "cusum")
    assert detector.shifted_components == ["semantic"]


def test_a_detector_stored_before_the_vocabulary_channel_still_runs() -> None:
    old = {"stats": {c: {"mean": 0.03, "sigma": 0.05} for c in COMPONENTS}, "sums": {}, "shifted": []}

    detector = ShiftDetector.from_dict(old)

    assert set(detector.stats) == set(COMPONENTS)
    assert detector.update({**scores(0.0), "vocabulary": 1.0}, PARAMS) == []
