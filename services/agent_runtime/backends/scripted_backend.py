"""A scripted backend for demos and tests: configurable latency, failures, drift and planning, deterministic by seed.

Each task draws its latency and whether it fails from ``random.Random`` seeded with (seed, agent, task,
attempt), so the same assignment behaves the same way in every process and in any order. With a ``drift``
scenario the output text comes from a scripted drifter (``services.agent_runtime.scripted_drift``), which
is stateful: its drift grows with the number of outputs, and the assignment's anchors push it back (ABA).
"""

from __future__ import annotations

import random
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.agent_runtime.backends.contract import BackendFailure, BackendResult, TaskRequest
from services.agent_runtime.scripted_drift import (
    DriftProgress,
    FormatDrift,
    ScriptedBehaviour,
    SemanticDrift,
    ToolAvoidance,
)
from shared.events.catalogue.tasks import ErrorClass

DECOMPOSE_OPERATOR = "decompose"
_DRIFTERS: dict[str, type[ScriptedBehaviour]] = {
    "semantic": SemanticDrift,
    "format": FormatDrift,
    "tool_avoidance": ToolAvoidance,
}


class DriftScenario(BaseModel):
    """Which scripted drifter produces the outputs, and when its drift begins and how fast it grows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["semantic", "format", "tool_avoidance"]
    onset: int = Field(default=100, ge=0)
    ramp: int = Field(default=40, ge=1)
    words_per_output: int = Field(default=32, ge=1)


class PlanStep(BaseModel):
    """One step of a scripted decomposition (further fields, e.g. ``inputs``, pass through unchanged)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(min_length=1)
    operator: str = Field(min_length=1)
    depends_on: list[str] = Field(default_factory=list)


class ScriptedPlan(BaseModel):
    """The plan a scripted planner answers ``decompose`` with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: list[PlanStep] = Field(min_length=1)
    rationale: str = ""


class ScriptedFinding(BaseModel):
    """A finding the scripted agent shares on the blackboard after each task."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str = Field(min_length=1)
    content: dict[str, Any] = Field(default_factory=dict)


class ScriptedBackendConfig(BaseModel):
    """Options of the scripted backend."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["scripted"] = "scripted"
    latency_s: float = Field(default=0.2, ge=0)
    latency_jitter_s: float = Field(default=0.0, ge=0)
    failure_rate: float = Field(default=0.0, ge=0, le=1)
    failure_class: ErrorClass = "crash"
    seed: int = 0
    tokens_per_task: int = Field(default=100, ge=0)
    drift: DriftScenario | None = None
    plan: ScriptedPlan | None = None
    findings: list[ScriptedFinding] = Field(default_factory=list)
    output: dict[str, Any] = Field(default_factory=dict)


class ScriptedBackend:
    """Behaves as configured; ``sleep`` is how latency passes (tests pass a recorder instead of waiting)."""

    def __init__(
        self, config: ScriptedBackendConfig, *, agent_id: str, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._config = config
        self._sleep = sleep
        self._lock = threading.Lock()
        self._drifter: ScriptedBehaviour | None = None
        if config.drift is not None:
            scenario = config.drift
            self._drifter = _DRIFTERS[scenario.kind](
                # crc32, not hash(): the seed must be the same in every process.
                seed=config.seed + zlib.crc32(agent_id.encode()),
                progress=DriftProgress(onset=scenario.onset, ramp=scenario.ramp),
                words_per_output=scenario.words_per_output,
            )

    def expected_latency_s(self) -> float:
        return self._config.latency_s + self._config.latency_jitter_s / 2

    def execute(self, request: TaskRequest) -> BackendResult:
        config = self._config
        rng = random.Random(f"{config.seed}:{request.agent_id}:{request.task_id}:{request.attempt}")
        latency = config.latency_s + config.latency_jitter_s * rng.random()
        fails = rng.random() < config.failure_rate
        if latency > request.timeout_s:
            self._sleep(request.timeout_s)
            raise BackendFailure("timeout", f"scripted latency {latency:.2f}s exceeds the {request.timeout_s}s timeout")
        if latency > 0:  # sleep(0) still gives up the GIL, and a zero-latency fleet would wait to get it back
            self._sleep(latency)
        if fails:
            raise BackendFailure(config.failure_class, f"scripted {config.failure_class} failure")
        if request.operator == DECOMPOSE_OPERATOR:
            return self._plan()
        return self._work(request)

    def close(self) -> None:
        return None

    def reset_session(self) -> None:
        """A new session: a drifting script starts over from its original behaviour."""
        if self._drifter is not None:
            with self._lock:
                self._drifter.reset()

    def apply_consolidation(self, summary: str, kept: int) -> None:
        """EMC: a drifting script is pulled back by half of its drift (see ``DriftProgress.consolidate``)."""
        if self._drifter is not None:
            with self._lock:
                self._drifter.consolidate()

    def _plan(self) -> BackendResult:
        if self._config.plan is None:
            raise BackendFailure("invalid", f"no plan is configured for '{DECOMPOSE_OPERATOR}'")
        return BackendResult({"plan": self._config.plan.model_dump()}, self._config.tokens_per_task)

    def _work(self, request: TaskRequest) -> BackendResult:
        config = self._config
        output: dict[str, Any] = {
            "summary": f"{request.operator} done by {request.agent_id}",
            "operator": request.operator,
            "peer_findings_seen": len(request.findings),
            **config.output,
        }
        tokens = config.tokens_per_task
        if self._drifter is not None:
            with self._lock:
                self._drifter.anchor(len(request.anchors))
                scripted = self._drifter.next_output()
            output |= {
                "text": scripted.text,
                "tools_used": sorted(scripted.tools_used),
                "memory_used": scripted.memory_used,
                "effective_drift": scripted.effective_drift,
            }
            tokens = scripted.tokens
        if config.findings:
            output["findings"] = [finding.model_dump() for finding in config.findings]
        return BackendResult(output, tokens)
