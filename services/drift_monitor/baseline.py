"""An agent's baseline: its first interactions, and the profile later behaviour is compared against."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.drift_monitor.sample import BehaviourSample, FormatKind
from services.drift_monitor.vectors import Vector, cosine, mean_vector

DEFAULT_BASELINE_SIZE = 20
DEFAULT_HABIT_SHARE = 0.8


@dataclass(frozen=True)
class Habits:
    """Items an agent uses habitually (in at least the habit share of interactions) and all it ever used."""

    habitual: frozenset[str]
    seen: frozenset[str]

    @classmethod
    def of(cls, uses: Sequence[Iterable[str]], habit_share: float) -> Habits:
        """Habits over `uses` (one collection of items per interaction)."""
        counts: Counter[str] = Counter()
        for items in uses:
            counts.update(set(items))
        needed = habit_share * len(uses)
        habitual = frozenset(item for item, count in counts.items() if count >= needed)
        return cls(habitual=habitual, seen=frozenset(counts))


@dataclass(frozen=True)
class Baseline:
    """The reference behaviour of one agent, built from its first interactions.

    `spread` is the mean leave-one-out distance (1 - cosine) of each baseline output to the mean of the
    others: how far a typical on-baseline output lies from the centre, used to calibrate semantic drift.
    """

    samples: tuple[BehaviourSample, ...]
    embeddings: tuple[tuple[float, ...], ...]
    habit_share: float = DEFAULT_HABIT_SHARE
    mean: Vector = field(init=False, compare=False)
    spread: float = field(init=False, compare=False)
    kind_shares: dict[FormatKind, float] = field(init=False, compare=False)
    tools: Habits = field(init=False, compare=False)
    json_keys: Habits = field(init=False, compare=False)
    memory_habitual: bool = field(init=False, compare=False)

    def __post_init__(self) -> None:
        if not self.samples:
            raise ValueError("a baseline needs at least one sample")
        if len(self.samples) != len(self.embeddings):
            raise ValueError("a baseline needs exactly one embedding per sample")
        vectors = [list(e) for e in self.embeddings]
        mean = mean_vector(vectors)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "spread", _leave_one_out_spread(vectors, mean))
        kinds = Counter(sample.format().kind for sample in self.samples)
        shares = {kind: count / len(self.samples) for kind, count in kinds.items()}
        object.__setattr__(self, "kind_shares", shares)
        object.__setattr__(self, "tools", Habits.of([s.tools_used for s in self.samples], self.habit_share))
        key_sets = [s.format().keys for s in self.samples if s.format().kind == "json"]
        object.__setattr__(self, "json_keys", Habits.of(key_sets, self.habit_share))
        memory_uses = sum(1 for s in self.samples if s.memory_used)
        object.__setattr__(self, "memory_habitual", memory_uses >= self.habit_share * len(self.samples))

    @property
    def size(self) -> int:
        """Number of interactions in the baseline."""
        return len(self.samples)

    def representativeness(self) -> list[float]:
        """Cosine of each baseline output to the baseline mean, in baseline order."""
        return [cosine(list(e), self.mean) for e in self.embeddings]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (derived statistics are recomputed on load)."""
        return {
            "samples": [s.to_dict() for s in self.samples],
            "embeddings": [list(e) for e in self.embeddings],
            "habit_share": self.habit_share,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Baseline:
        """Inverse of `to_dict`."""
        return cls(
            samples=tuple(BehaviourSample.from_dict(s) for s in data["samples"]),
            embeddings=tuple(tuple(float(x) for x in e) for e in data["embeddings"]),
            habit_share=float(data.get("habit_share", DEFAULT_HABIT_SHARE)),
        )


def _leave_one_out_spread(vectors: list[Vector], mean: Vector) -> float:
    # Distances to the mean *including* the sample itself understate how far a fresh output lands, so
    # each sample is compared with the mean of the others.
    n = len(vectors)
    if n < 2:
        return 0.0
    distances = []
    for vector in vectors:
        others = [(n * m - x) / (n - 1) for m, x in zip(mean, vector, strict=True)]
        distances.append(1.0 - cosine(vector, others))
    return sum(distances) / n
