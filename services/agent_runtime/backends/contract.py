"""What every backend is given, what it gives back, and how it says it failed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.events.catalogue.tasks import ErrorClass

#: The key of a backend's reply that carries its token usage; everything else in the reply is the output.
TOKENS_KEY = "tokens_used"


@dataclass(frozen=True)
class TaskRequest:
    """One task as a backend sees it: the assignment plus the context the runtime adds.

    ``findings`` are recent blackboard findings of the same goal (peers' shared knowledge); ``max_tokens`` is
    what is left of the agent's token budget (None: unlimited), so a backend can cap its own usage.
    """

    agent_id: str
    role: str
    model: str
    task_id: str
    goal_id: str
    attempt: int
    operator: str
    capability: str
    timeout_s: float
    inputs: dict[str, Any] = field(default_factory=dict)
    anchors: tuple[str, ...] = ()
    findings: tuple[dict[str, Any], ...] = ()
    max_tokens: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (what the subprocess backend writes to the command's stdin)."""
        return {
            "agent_id": self.agent_id,
            "role": self.role,
            "model": self.model,
            "task_id": self.task_id,
            "goal_id": self.goal_id,
            "attempt": self.attempt,
            "operator": self.operator,
            "capability": self.capability,
            "timeout_s": self.timeout_s,
            "inputs": self.inputs,
            "anchors": list(self.anchors),
            "findings": list(self.findings),
            "max_tokens": self.max_tokens,
        }


class BackendFailure(Exception):
    """A backend could not do the task; ``error_class`` decides how the assigner retries it."""

    def __init__(self, error_class: ErrorClass, message: str) -> None:
        super().__init__(message)
        self.error_class: ErrorClass = error_class
        self.message = message


@dataclass(frozen=True)
class BackendResult:
    """A finished task: its output (a JSON object) and the tokens it used."""

    output: dict[str, Any]
    tokens_used: int = 0

    @classmethod
    def from_reply(cls, reply: object) -> BackendResult:
        """Read a reply object: ``tokens_used`` (optional, a non-negative integer) is usage, the rest is output.

        Raises ``BackendFailure("invalid")`` when the reply is not a JSON object or its usage is malformed.
        """
        if not isinstance(reply, Mapping):
            raise BackendFailure("invalid", f"the reply must be a JSON object, got {type(reply).__name__}")
        output = {str(k): v for k, v in reply.items()}
        tokens = output.pop(TOKENS_KEY, 0)
        if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 0:
            raise BackendFailure("invalid", f"'{TOKENS_KEY}' must be a non-negative integer, got {tokens!r}")
        return cls(output, tokens)


class Backend(Protocol):
    """Runs tasks for one agent. ``execute`` is called from worker threads, possibly concurrently."""

    def execute(self, request: TaskRequest) -> BackendResult:
        """Do the task; raise ``BackendFailure`` with an error class when it cannot be done."""
        ...

    def expected_latency_s(self) -> float | None:
        """How long a task usually takes, when the backend knows (None: learn it from observed durations)."""
        ...

    def close(self) -> None:
        """Release what the backend holds (connections); called once when the runtime stops."""
        ...
