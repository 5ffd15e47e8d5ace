import math

import pytest

from services.drift_monitor.baseline import Baseline, Habits
from services.drift_monitor.drift_score import (
    DriftWeights,
    calibrated_semantic_deviation,
    habit_deviation,
    score_drift,
)
from services.drift_monitor.embedding import HashedNgramEmbedding
from services.drift_monitor.sample import BehaviourSample

EMBEDDING = HashedNgramEmbedding()
TOOLS = frozenset({"read_file", "run_tests"})


def sample(output: str, tools: frozenset[str] = TOOLS, memory: bool = True) -> BehaviourSample:
    return BehaviourSample("a1", "worker", output, tools, memory)


def json_output(i: int) -> str:
    return f'{{"files": ["src/m{i}.py"], "status": "done", "summary": "fixed parser bug {i}"}}'


def baseline_of(samples: list[BehaviourSample]) -> Baseline:
    return Baseline(tuple(samples), tuple(tuple(e) for e in EMBEDDING.embed([s.output for s in samples])))


@pytest.fixture
def json_baseline() -> Baseline:
    return baseline_of([sample(json_output(i)) for i in range(20)])


def score(s: BehaviourSample, baseline: Baseline, weights: DriftWeights | None = None):
    return score_drift(s, EMBEDDING.embed_one(s.output), baseline, weights)


def test_a_typical_output_has_no_drift(json_baseline):
    assert score(sample(json_output(3)), json_baseline).drift < 0.05


def test_switching_from_json_to_prose_is_full_format_deviation(json_baseline):
    breakdown = score(sample("I fixed the parser bug in src/m3.py and it is done."), json_baseline)

    assert breakdown.format == 1.0
    assert breakdown.drift >= 0.7


def test_dropping_the_json_keys_counts_as_format_deviation(json_baseline):
    breakdown = score(sample('{"answer": "fixed parser bug 3"}'), json_baseline)

    assert breakdown.format == 1.0


def test_dropping_every_habitual_tool_is_full_tool_deviation(json_baseline):
    breakdown = score(sample(json_output(3), tools=frozenset()), json_baseline)

    assert breakdown.tools == 1.0
    assert breakdown.drift == pytest.approx(0.6, abs=0.05)


def test_ignoring_habitual_memory_is_memory_deviation(json_baseline):
    assert score(sample(json_output(3), memory=False), json_baseline).memory == 1.0


def test_using_memory_is_never_drift():
    baseline = baseline_of([sample(json_output(i), memory=False) for i in range(20)])

    assert score(sample(json_output(3), memory=True), baseline).memory == 0.0


def test_off_topic_vocabulary_is_semantic_drift(json_baseline):
    breakdown = score(sample('{"files": [], "status": "done", "summary": "garlic pasta by the sea"}'), json_baseline)

    assert breakdown.semantic > 0.3
    assert breakdown.semantic_distance > json_baseline.spread


def test_channels_combine_as_a_weighted_noisy_or(json_baseline):
    weights = DriftWeights()
    breakdown = score(sample("Garlic pasta by the sea.", tools=frozenset(), memory=False), json_baseline, weights)

    kept = (
        (1 - weights.semantic * breakdown.semantic)
        * (1 - weights.format * breakdown.format)
        * (1 - weights.tools * breakdown.tools)
        * (1 - weights.memory * breakdown.memory)
    )
    assert math.isclose(breakdown.drift, 1 - kept)


def test_without_calibration_semantic_deviation_is_the_raw_cosine_distance(json_baseline):
    breakdown = score(sample(json_output(3)), json_baseline, DriftWeights(calibrate_semantic=False))

    assert breakdown.semantic == breakdown.semantic_distance


def test_calibration_maps_the_baseline_spread_to_zero_and_keeps_one_at_one():
    assert calibrated_semantic_deviation(0.3, spread=0.4) == 0.0
    assert calibrated_semantic_deviation(0.4, spread=0.4) == 0.0
    assert calibrated_semantic_deviation(0.7, spread=0.4) == pytest.approx(0.5)
    assert calibrated_semantic_deviation(1.0, spread=0.4) == pytest.approx(1.0)


def test_occasionally_used_tools_count_neither_missing_nor_novel():
    habits = Habits.of([{"read"}, {"read", "grep"}, {"read"}, {"read"}, {"read"}], habit_share=0.8)

    assert habit_deviation(frozenset({"read", "grep"}), habits) == 0.0
    assert habit_deviation(frozenset({"read", "deploy"}), habits) == 0.5
    assert habit_deviation(frozenset(), habits) == 1.0


def test_weights_outside_the_unit_interval_are_refused():
    with pytest.raises(ValueError, match="format"):
        DriftWeights(format=1.5)
