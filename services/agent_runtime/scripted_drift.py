"""Scripted drifting behaviour for demos and benchmarks: agents (and a router) that drift on cue.

Every generator is driven by a `DriftProgress`, a mechanistic model of how far the behaviour has drifted
and how mitigations act on it:

- Drift begins after `onset` interactions of a session and grows by `1 / ramp` per interaction up to 1.
- `reset()` (session restart) restores the original behaviour: progress and anchors go to 0 and the
  session count restarts, so the drift comes back `onset` interactions later, as it would for a real
  agent whose drift grows with session length.
- `consolidate(fraction)` (EMC) pulls the progress back by `fraction` (default 0.5); drift resumes
  growing from there.
- `anchor(k)` (ABA) applies to the outputs that follow: their effective drift is
  `progress * max(0, 1 - k * anchor_strength)` (default strength 0.15: five anchors remove 75%).

The effective drift `e` in [0, 1] acts per output: a semantic drifter draws each word off-topic with
probability `e`; a format drifter answers in prose instead of JSON with probability `e`; a tool avoider
drops each habitual tool with probability `e`; a biased router picks its favourite with probability `e`.
Randomness comes from `random.Random` seeded with (seed, generator kind, interaction number), so a
generator gives the same outputs in every process and after a `to_dict` / `from_dict` round trip.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

ON_TOPIC_WORDS: tuple[str, ...] = (
    "function", "module", "parser", "test", "refactor", "commit", "branch", "merge", "schema", "query",
    "index", "cache", "request", "handler", "config", "deploy", "build", "compile", "type", "interface",
    "class", "method", "variable", "exception", "logging", "metric", "latency", "service", "endpoint",
    "database", "migration", "fixture", "assertion", "coverage", "lint", "docstring", "import", "package",
    "dependency", "version", "release", "pipeline", "container", "cluster", "retry", "timeout", "thread",
    "buffer",
)  # fmt: skip
OFF_TOPIC_WORDS: tuple[str, ...] = (
    "recipe", "garlic", "onion", "butter", "oven", "saucepan", "basil", "tomato", "pasta", "dessert",
    "beach", "holiday", "passport", "luggage", "sunset", "mountain", "hiking", "ferry", "island", "hotel",
    "garden", "tulip", "compost", "shovel", "poetry", "novel", "chapter", "melody", "guitar", "violin",
    "painting", "canvas", "museum", "sculpture", "football", "stadium", "referee", "marathon", "picnic",
    "blanket", "kitten", "puppy", "parrot", "weather", "rainbow", "thunder", "snowfall", "breeze",
)  # fmt: skip
FILE_NAMES: tuple[str, ...] = (
    "src/parser.py", "src/handler.py", "src/cache.py", "src/schema.py", "tests/test_parser.py",
    "tests/test_cache.py", "docs/index.md", "src/service.py",
)  # fmt: skip
DEFAULT_TOOLS: tuple[str, ...] = ("read_file", "run_tests", "search_code")


@dataclass
class DriftProgress:
    """How far a scripted behaviour has drifted, and how mitigations push it back (see module docs)."""

    onset: int = 100
    ramp: int = 40
    anchor_strength: float = 0.15
    interactions: int = 0
    progress: float = 0.0
    anchors: int = 0

    def __post_init__(self) -> None:
        if self.onset < 0 or self.ramp < 1:
            raise ValueError("onset must be non-negative and ramp positive")

    def advance(self) -> float:
        """Count one interaction of the session and return the effective drift of its output."""
        self.interactions += 1
        if self.interactions > self.onset:
            self.progress = min(1.0, self.progress + 1.0 / self.ramp)
        return self.effective()

    def effective(self) -> float:
        """Drift of the next outputs after anchoring."""
        return self.progress * max(0.0, 1.0 - self.anchors * self.anchor_strength)

    def reset(self) -> None:
        """Session restart: original behaviour, no anchors, session count from zero."""
        self.interactions = 0
        self.progress = 0.0
        self.anchors = 0

    def consolidate(self, fraction: float = 0.5) -> None:
        """Memory consolidation: pull the drift progress back by `fraction` of itself."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("fraction must be within [0, 1]")
        self.progress *= 1.0 - fraction

    def anchor(self, count: int) -> None:
        """Put `count` baseline examples into the next prompts (replacing any previous anchoring)."""
        self.anchors = max(0, count)


@dataclass(frozen=True)
class ScriptedOutput:
    """One scripted interaction: the output text and how it was produced."""

    text: str
    tools_used: frozenset[str]
    memory_used: bool
    latency_ms: float
    tokens: int
    effective_drift: float


def _words(rng: random.Random, count: int, drift: float) -> list[str]:
    return [rng.choice(OFF_TOPIC_WORDS if rng.random() < drift else ON_TOPIC_WORDS) for _ in range(count)]


def _prose(words: list[str], sentence_length: int = 8) -> str:
    sentences = [words[i : i + sentence_length] for i in range(0, len(words), sentence_length)]
    return " ".join(" ".join(sentence).capitalize() + "." for sentence in sentences)


@dataclass
class ScriptedBehaviour:
    """Base of the scripted drifters: seeded, serialisable, and responsive to mitigations."""

    kind: ClassVar[str] = "base"

    seed: int = 0
    progress: DriftProgress = field(default_factory=DriftProgress)
    words_per_output: int = 32
    tools: tuple[str, ...] = DEFAULT_TOOLS
    outputs: int = 0

    def next_output(self) -> ScriptedOutput:
        """Produce the next interaction's output."""
        drift = self.progress.advance()
        self.outputs += 1
        rng = random.Random(f"{self.seed}:{self.kind}:{self.outputs}")
        text, tools = self._render(rng, drift)
        return ScriptedOutput(
            text=text,
            tools_used=tools,
            memory_used=True,
            latency_ms=round(800.0 + 400.0 * rng.random(), 1),
            tokens=int(len(text.split()) * 1.3),
            effective_drift=drift,
        )

    def _render(self, rng: random.Random, drift: float) -> tuple[str, frozenset[str]]:
        raise NotImplementedError

    def reset(self) -> None:
        """The agent's session restarted."""
        self.progress.reset()

    def consolidate(self, fraction: float = 0.5) -> None:
        """The agent's memory was consolidated (EMC)."""
        self.progress.consolidate(fraction)

    def anchor(self, count: int) -> None:
        """The agent's next prompts carry `count` baseline examples (ABA)."""
        self.progress.anchor(count)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form, tagged with the generator kind."""
        data = asdict(self)
        data["tools"] = list(self.tools)
        return {"kind": self.kind, **data}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> ScriptedBehaviour:
        """Rebuild any scripted behaviour from its `to_dict` form."""
        fields = dict(data)
        behaviour_class = _BEHAVIOURS[fields.pop("kind")]
        fields["progress"] = DriftProgress(**fields["progress"])
        fields["tools"] = tuple(fields["tools"])
        return behaviour_class(**fields)


@dataclass
class SemanticDrift(ScriptedBehaviour):
    """Prose whose vocabulary slides from software engineering to cooking, travel and leisure."""

    kind: ClassVar[str] = "semantic"

    def _render(self, rng: random.Random, drift: float) -> tuple[str, frozenset[str]]:
        return _prose(_words(rng, self.words_per_output, drift)), frozenset(self.tools)


@dataclass
class FormatDrift(ScriptedBehaviour):
    """A JSON reporter (`summary`, `files`, `status`) that starts answering in prose."""

    kind: ClassVar[str] = "format"

    def _render(self, rng: random.Random, drift: float) -> tuple[str, frozenset[str]]:
        summary = _prose(_words(rng, self.words_per_output, 0.0))
        files = sorted(rng.sample(FILE_NAMES, 2))
        if rng.random() < drift:
            text = f"{summary} I changed {files[0]} and {files[1]}, and the work is done."
        else:
            text = json.dumps({"summary": summary, "files": files, "status": "done"}, sort_keys=True)
        return text, frozenset(self.tools)


@dataclass
class ToolAvoidance(ScriptedBehaviour):
    """An on-topic agent that gradually stops calling the tools it used to call."""

    kind: ClassVar[str] = "tool_avoidance"

    def _render(self, rng: random.Random, drift: float) -> tuple[str, frozenset[str]]:
        text = _prose(_words(rng, self.words_per_output, 0.0))
        return text, frozenset(tool for tool in self.tools if rng.random() >= drift)


_BEHAVIOURS: dict[str, type[ScriptedBehaviour]] = {cls.kind: cls for cls in (SemanticDrift, FormatDrift, ToolAvoidance)}


@dataclass
class BiasedRouter:
    """A router that, as it drifts, sends tasks to `favourite` instead of spreading them uniformly."""

    agents: tuple[str, ...]
    favourite: str
    seed: int = 0
    progress: DriftProgress = field(default_factory=DriftProgress)
    picks: int = 0

    def __post_init__(self) -> None:
        if self.favourite not in self.agents:
            raise ValueError(f"favourite {self.favourite!r} is not one of the agents")

    def pick(self) -> str:
        """Choose the agent for the next task."""
        drift = self.progress.advance()
        self.picks += 1
        rng = random.Random(f"{self.seed}:router:{self.picks}")
        if rng.random() < drift:
            return self.favourite
        return rng.choice(self.agents)

    def reset(self) -> None:
        """The router was restarted: back to uniform choices."""
        self.progress.reset()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        data = asdict(self)
        data["agents"] = list(self.agents)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BiasedRouter:
        """Inverse of `to_dict`."""
        fields = dict(data)
        fields["agents"] = tuple(fields["agents"])
        fields["progress"] = DriftProgress(**fields["progress"])
        return cls(**fields)
