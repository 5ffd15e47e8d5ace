"""Adaptive behavioural anchoring (ABA): remind a drifting agent of how it behaved at its baseline.

The agent's next prompts get `int(5 * drift)` baseline examples, chosen most representative first (the
closest to the baseline mean), ties broken by baseline order, so the choice is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.drift_monitor.baseline import Baseline
from services.drift_monitor.sample import BehaviourSample

DEFAULT_MAX_ANCHORS = 5


@dataclass(frozen=True)
class Anchor:
    """One baseline example to include in a prompt, with its similarity to the baseline mean."""

    baseline_index: int
    similarity: float
    sample: BehaviourSample


def anchor_count(drift: float, max_anchors: int = DEFAULT_MAX_ANCHORS) -> int:
    """`int(max_anchors * drift)` for drift clamped to [0, 1]: 0 anchors when stable, all when fully drifted."""
    return int(max_anchors * min(1.0, max(0.0, drift)))


def choose_anchors(baseline: Baseline, drift: float, max_anchors: int = DEFAULT_MAX_ANCHORS) -> list[Anchor]:
    """The baseline examples to anchor an agent whose latest drift is `drift`, most representative first."""
    count = min(anchor_count(drift, max_anchors), baseline.size)
    ranked = sorted(enumerate(baseline.representativeness()), key=lambda pair: (-pair[1], pair[0]))
    return [Anchor(index, similarity, baseline.samples[index]) for index, similarity in ranked[:count]]
