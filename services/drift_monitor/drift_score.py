"""Drift of one interaction against its agent's baseline: semantic, format, tool and memory deviations.

Each channel yields a deviation in [0, 1]; the channels are combined as a weighted noisy-OR:

    drift = 1 - (1 - w_semantic * semantic) * (1 - w_format * format) * (1 - w_tools * tools)
              * (1 - w_memory * memory)

so one channel at full deviation alone already gives a drift of its weight (format drift alone: 0.7,
which settles the stability EMA at 0.3, below the alert and reset thresholds), while several partial
deviations add up without exceeding 1. A weighted average would let a total format change hide behind
unchanged wording.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from services.drift_monitor.baseline import Baseline, Habits
from services.drift_monitor.sample import BehaviourSample, FormatSignature
from services.drift_monitor.vectors import cosine


@dataclass(frozen=True)
class DriftWeights:
    """How strongly each channel's full deviation counts (each in [0, 1]).

    `calibrate_semantic`: the report's semantic drift is the raw `1 - cosine(output, baseline mean)`. An
    agent whose outputs naturally vary sits at a raw distance well above 0 forever, which would read as
    permanent drift; with calibration the raw distance is rescaled so the baseline's own typical distance
    (`Baseline.spread`) maps to 0 and a distance of 1 stays 1.
    """

    semantic: float = 1.0
    format: float = 0.7
    tools: float = 0.6
    memory: float = 0.5
    calibrate_semantic: bool = True

    def __post_init__(self) -> None:
        for name in ("semantic", "format", "tools", "memory"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"weight {name} must be within [0, 1], got {value}")


@dataclass(frozen=True)
class DriftBreakdown:
    """Per-channel deviations of one interaction and their combined drift, all in [0, 1]."""

    semantic_distance: float
    semantic: float
    format: float
    tools: float
    memory: float
    drift: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return asdict(self)


def semantic_distance(embedding: list[float], baseline: Baseline) -> float:
    """The report's semantic drift: 1 - cosine(embedding, mean baseline embedding), clamped to [0, 1]."""
    return min(1.0, max(0.0, 1.0 - cosine(embedding, baseline.mean)))


def calibrated_semantic_deviation(distance: float, spread: float) -> float:
    """`distance` rescaled so the baseline spread maps to 0 and 1 stays 1; never negative."""
    if distance <= spread:
        return 0.0
    return min(1.0, (distance - spread) / max(1.0 - spread, 1e-9))


def habit_deviation(used: frozenset[str], habits: Habits) -> float:
    """Share of habitual items left out plus never-seen items brought in, over both together.

    Items the baseline used only occasionally count neither way, so an agent that sometimes greps is not
    drifting when it greps.
    """
    relevant = habits.habitual | used
    if not relevant:
        return 0.0
    missing = habits.habitual - used
    novel = used - habits.seen
    return (len(missing) + len(novel)) / len(relevant)


def format_deviation(signature: FormatSignature, baseline: Baseline) -> float:
    """How unusual this output's shape is for the agent.

    The kind counts by its share relative to the agent's dominant kind (the dominant kind scores 0, a kind
    never seen scores 1); for JSON objects, the top-level keys count like habits. The larger one wins.
    """
    dominant = max(baseline.kind_shares.values())
    kind_deviation = 1.0 - baseline.kind_shares.get(signature.kind, 0.0) / dominant
    key_deviation = 0.0
    if signature.kind == "json" and baseline.json_keys.seen:
        key_deviation = habit_deviation(frozenset(signature.keys), baseline.json_keys)
    return max(kind_deviation, key_deviation)


def memory_deviation(memory_used: bool, baseline: Baseline) -> float:
    """1 when an agent that habitually used its memory ignored it; using memory is never drift."""
    return 1.0 if baseline.memory_habitual and not memory_used else 0.0


def score_drift(
    sample: BehaviourSample,
    embedding: list[float],
    baseline: Baseline,
    weights: DriftWeights | None = None,
) -> DriftBreakdown:
    """Drift of `sample` (whose output embeds to `embedding`) against `baseline`."""
    weights = weights or DriftWeights()
    distance = semantic_distance(embedding, baseline)
    semantic = calibrated_semantic_deviation(distance, baseline.spread) if weights.calibrate_semantic else distance
    formatting = format_deviation(sample.format(), baseline)
    tools = habit_deviation(sample.tools_used, baseline.tools)
    memory = memory_deviation(sample.memory_used, baseline)
    kept = 1.0
    for weight, deviation in (
        (weights.semantic, semantic),
        (weights.format, formatting),
        (weights.tools, tools),
        (weights.memory, memory),
    ):
        kept *= 1.0 - weight * deviation
    return DriftBreakdown(
        semantic_distance=distance,
        semantic=semantic,
        format=formatting,
        tools=tools,
        memory=memory,
        drift=min(1.0, max(0.0, 1.0 - kept)),
    )


def leave_one_out_scores(baseline: Baseline, weights: DriftWeights | None = None) -> list[DriftBreakdown]:
    """Each baseline interaction scored against a baseline of the others: how fresh on-baseline outputs score.

    (Scoring a baseline interaction against the full baseline would understate its drift, since it helped
    build the profile it is compared with.) Empty for a baseline of one.
    """
    if baseline.size < 2:
        return []
    scores = []
    for i in range(baseline.size):
        others = Baseline(
            samples=baseline.samples[:i] + baseline.samples[i + 1 :],
            embeddings=baseline.embeddings[:i] + baseline.embeddings[i + 1 :],
            habit_share=baseline.habit_share,
        )
        scores.append(score_drift(baseline.samples[i], list(baseline.embeddings[i]), others, weights))
    return scores
