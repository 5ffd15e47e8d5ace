import pytest

from services.drift_monitor.anchoring import anchor_count, choose_anchors
from services.drift_monitor.baseline import Baseline
from services.drift_monitor.sample import BehaviourSample


@pytest.mark.parametrize(
    ("drift", "expected"), [(0.0, 0), (0.19, 0), (0.2, 1), (0.5, 2), (0.79, 3), (0.99, 4), (1.0, 5), (2.0, 5)]
)
def test_the_number_of_anchors_is_int_of_five_times_drift(drift, expected):
    assert anchor_count(drift) == expected


def baseline() -> Baseline:
    # The mean leans 0.154 off axis 0: output 4 (0.15) is the most typical, then 1 (0.12), then 3 (0.2).
    embeddings = tuple((1.0, lean, 0.0) for lean in (0.0, 0.12, 0.3, 0.2, 0.15))
    samples = tuple(BehaviourSample("a1", "worker", f"output {i}") for i in range(5))
    return Baseline(samples, embeddings)


def test_anchors_are_the_most_representative_baseline_examples_first():
    chosen = choose_anchors(baseline(), drift=0.6)

    assert [a.sample.output for a in chosen] == ["output 4", "output 1", "output 3"]
    assert [a.similarity for a in chosen] == sorted((a.similarity for a in chosen), reverse=True)


def test_anchoring_is_deterministic():
    assert choose_anchors(baseline(), 0.9) == choose_anchors(baseline(), 0.9)


def test_a_stable_agent_gets_no_anchors():
    assert choose_anchors(baseline(), drift=0.1) == []


def test_anchors_never_exceed_the_baseline_size():
    small = Baseline((BehaviourSample("a1", "worker", "only"),), ((1.0, 0.0),))

    assert len(choose_anchors(small, drift=1.0)) == 1
