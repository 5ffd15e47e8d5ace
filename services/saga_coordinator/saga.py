"""A pure saga state machine: ordered steps with compensations, retries, timeouts and escalation.

The instance never performs anything: it consumes results (of steps, compensations and scheduled
retries) and returns the commands the coordinator service must publish. Time is a parameter (`now`,
seconds), so timeouts and backoff are tested without waiting, and a replay of the same inputs yields the
same commands.

Forward path: steps run in order; a failed or timed-out attempt is retried with exponential backoff
(`ScheduleStepRetry`, then `on_step_retry_due`) until the step's retry policy is spent or the failure is
not retryable. Then the saga compensates: every executed step with a compensation, in exact reverse
order, one at a time (`StartCompensation`). A failing compensation is retried with backoff
(`ScheduleCompensationRetry`); once its retries are spent it is escalated (`EscalateCompensation`) and the
saga waits in `compensation_escalated`, naming the steps still to undo, until a human resolves it
(`resolve_compensation`). Nothing is skipped or forgotten.

Idempotency: every result names the step and attempt it answers; anything that does not match what the
saga is currently waiting for (a duplicate, a late answer to a superseded attempt, a result after the end)
changes nothing and returns no commands.

Abort (`abort`, e.g. the saga's goal was cancelled): no further step or retry starts. An attempt in flight is
awaited, until it answers or the grace period given passes (`SagaAbortAccepted.until`, then treated as timed
out): if it succeeds its step counts as executed. Then every executed step is compensated in reverse order,
as after a failure, and the saga ends `compensated` with the abort's reason (even with nothing to undo). A saga
already compensating or finished ignores an abort: it is undoing everything already, or done.

Terminal states: `completed` (every step succeeded), `compensated` (a step failed for good, or the saga was
aborted, and every executed step was undone), `failed` (a step failed for good and there was nothing to undo).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, Literal

from services.saga_coordinator.retry_policy import RetryPolicy

DEFAULT_STEP_TIMEOUT_SECONDS = 1800.0
DEFAULT_COMPENSATION_RETRY = RetryPolicy(max_attempts=5, base_delay_seconds=2.0)


class SagaStatus(StrEnum):
    """Where a saga stands as a whole."""

    PENDING = "pending"
    RUNNING = "running"
    COMPENSATING = "compensating"
    COMPENSATION_ESCALATED = "compensation_escalated"
    COMPLETED = "completed"
    COMPENSATED = "compensated"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        """True once the saga will never issue another command."""
        return self in (SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.FAILED)


class StepStatus(StrEnum):
    """Where one step stands."""

    PENDING = "pending"
    RUNNING = "running"
    RETRY_SCHEDULED = "retry_scheduled"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    COMPENSATING = "compensating"
    COMPENSATION_RETRY_SCHEDULED = "compensation_retry_scheduled"
    COMPENSATION_ESCALATED = "compensation_escalated"
    COMPENSATED = "compensated"


class Outcome(StrEnum):
    """The result of one attempt of a step or a compensation."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"


Resolution = Literal["compensated_manually", "retry"]


@dataclass(frozen=True)
class SagaAction:
    """What a step (or compensation) does: a task for an agent (`operator`) or a command to publish.

    An operator's task goes to agents with `capability` (None: the operator's own name).
    """

    kind: Literal["operator", "command"]
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    capability: str | None = None

    @property
    def required_capability(self) -> str:
        """The capability an agent needs to carry out this operator."""
        return self.capability or self.name

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        data: dict[str, Any] = {"kind": self.kind, "name": self.name, "params": dict(self.params)}
        if self.capability is not None:
            data["capability"] = self.capability
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SagaAction:
        """Inverse of `to_dict`."""
        return cls(
            kind=data["kind"],
            name=data["name"],
            params=dict(data.get("params", {})),
            capability=data.get("capability"),
        )


@dataclass(frozen=True)
class SagaStep:
    """One step: its action, how to undo it, how to retry it, and how long an attempt may take.

    `timeout_seconds=None` waits indefinitely (e.g. user approval). `compensate_if_failed` marks a step whose
    failed attempts may leave partial effects (e.g. executing changes): when it fails for good, its own
    compensation runs first; that compensation must tolerate a step that did nothing.
    """

    name: str
    action: SagaAction
    compensation: SagaAction | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout_seconds: float | None = DEFAULT_STEP_TIMEOUT_SECONDS
    compensation_retry: RetryPolicy = DEFAULT_COMPENSATION_RETRY
    compensation_timeout_seconds: float | None = DEFAULT_STEP_TIMEOUT_SECONDS
    compensate_if_failed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "name": self.name,
            "action": self.action.to_dict(),
            "compensation": self.compensation.to_dict() if self.compensation is not None else None,
            "retry": self.retry.to_dict(),
            "timeout_seconds": self.timeout_seconds,
            "compensation_retry": self.compensation_retry.to_dict(),
            "compensation_timeout_seconds": self.compensation_timeout_seconds,
            "compensate_if_failed": self.compensate_if_failed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SagaStep:
        """Inverse of `to_dict`."""
        compensation = data.get("compensation")
        return cls(
            name=data["name"],
            action=SagaAction.from_dict(data["action"]),
            compensation=SagaAction.from_dict(compensation) if compensation is not None else None,
            retry=RetryPolicy.from_dict(data["retry"]),
            timeout_seconds=data.get("timeout_seconds"),
            compensation_retry=RetryPolicy.from_dict(data["compensation_retry"]),
            compensation_timeout_seconds=data.get("compensation_timeout_seconds"),
            compensate_if_failed=bool(data.get("compensate_if_failed", False)),
        )


@dataclass(frozen=True)
class SagaDefinition:
    """A named, versioned, ordered list of steps."""

    name: str
    steps: tuple[SagaStep, ...]
    version: int = 1
    description: str = ""

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError(f"saga {self.name!r} has no steps")
        names = [step.name for step in self.steps]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"saga {self.name!r} has duplicate step names: {', '.join(duplicates)}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "steps": [step.to_dict() for step in self.steps],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SagaDefinition:
        """Inverse of `to_dict`."""
        return cls(
            name=data["name"],
            steps=tuple(SagaStep.from_dict(step) for step in data["steps"]),
            version=int(data.get("version", 1)),
            description=data.get("description", ""),
        )


@dataclass(frozen=True)
class RunStep:
    """Run attempt `attempt` of a step; report back by `deadline` (None: no deadline)."""

    saga_id: str
    step_index: int
    step_name: str
    attempt: int
    action: SagaAction
    deadline: float | None


@dataclass(frozen=True)
class ScheduleStepRetry:
    """At time `at`, call `on_step_retry_due` for attempt `attempt` of the step."""

    saga_id: str
    step_index: int
    step_name: str
    attempt: int
    at: float


@dataclass(frozen=True)
class StartCompensation:
    """Run attempt `attempt` of a step's compensation; report back by `deadline` (None: no deadline)."""

    saga_id: str
    step_index: int
    step_name: str
    attempt: int
    action: SagaAction
    deadline: float | None


@dataclass(frozen=True)
class ScheduleCompensationRetry:
    """At time `at`, call `on_compensation_retry_due` for attempt `attempt` of the compensation."""

    saga_id: str
    step_index: int
    step_name: str
    attempt: int
    at: float


@dataclass(frozen=True)
class EscalateCompensation:
    """A compensation failed after all its retries: a human must resolve it. `steps_left` are the steps
    still to undo, in the order they will be undone (the escalated step first)."""

    saga_id: str
    step_index: int
    step_name: str
    attempts: int
    error: str
    steps_left: tuple[str, ...]


@dataclass(frozen=True)
class SagaAbortAccepted:
    """The saga will stop. `waiting_for` is the step whose attempt `attempt` is in flight: it is awaited until
    `until`, then treated as timed out (None: nothing in flight, compensation starts at once)."""

    saga_id: str
    reason: str
    waiting_for: int | None = None
    attempt: int | None = None
    until: float | None = None


@dataclass(frozen=True)
class SagaFinished:
    """The saga reached a terminal status."""

    saga_id: str
    status: SagaStatus


SagaCommand = (
    RunStep
    | ScheduleStepRetry
    | StartCompensation
    | ScheduleCompensationRetry
    | EscalateCompensation
    | SagaAbortAccepted
    | SagaFinished
)


def command_to_dict(command: SagaCommand) -> dict[str, Any]:
    """Plain JSON form of a command, tagged with its type name."""
    data: dict[str, Any] = {"type": type(command).__name__}
    for item in fields(command):
        value = getattr(command, item.name)
        if isinstance(value, SagaAction):
            value = value.to_dict()
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, SagaStatus):
            value = value.value
        data[item.name] = value
    return data


@dataclass
class StepState:
    """Mutable progress of one step inside a saga instance."""

    status: StepStatus = StepStatus.PENDING
    attempt: int = 0
    deadline: float | None = None
    retry_at: float | None = None
    executed: bool = False
    compensation_attempt: int = 0
    compensation_deadline: float | None = None
    compensation_retry_at: float | None = None
    compensated_manually: bool = False
    last_error: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        data = {item.name: getattr(self, item.name) for item in fields(self)}
        data["status"] = self.status.value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepState:
        """Inverse of `to_dict`."""
        values = dict(data)
        values["status"] = StepStatus(values["status"])
        return cls(**values)


class SagaInstance:
    """One run of a saga definition; serialisable with `to_dict` / `from_dict`.

    The definition is stored with the instance, so a run finishes under the definition it started with
    even if the definition file changes meanwhile.
    """

    def __init__(self, saga_id: str, definition: SagaDefinition) -> None:
        self.saga_id = saga_id
        self.definition = definition
        self.status = SagaStatus.PENDING
        self.steps = [StepState() for _ in definition.steps]
        self.failed_step: int | None = None
        self.compensation_order: list[int] = []
        self.abort_reason: str | None = None
        """Set once an abort was accepted: the saga then starts no further step and ends compensated."""

    def start(self, now: float) -> list[SagaCommand]:
        """Begin with the first step (a repeated start changes nothing)."""
        if self.status is not SagaStatus.PENDING:
            return []
        self.status = SagaStatus.RUNNING
        return [self._run_step(0, 1, now)]

    def on_step_result(
        self,
        step_index: int,
        attempt: int,
        outcome: Outcome | str,
        now: float,
        *,
        error: str = "",
        retryable: bool = True,
        jitter: float = 0.0,
    ) -> list[SagaCommand]:
        """Consume the result of attempt `attempt` of step `step_index`.

        `retryable=False` (e.g. an auth error or a user's rejection) skips the remaining retries. `jitter`
        in [0, 1) spreads the retry delay (see `RetryPolicy.delay`).
        """
        outcome = Outcome(outcome)
        if self.status is not SagaStatus.RUNNING or not self._is_running(step_index, attempt):
            return []
        state = self.steps[step_index]
        state.deadline = None
        if outcome is Outcome.SUCCEEDED:
            state.status = StepStatus.SUCCEEDED
            state.executed = True
            if self.abort_reason is not None:
                self.status = SagaStatus.COMPENSATING
                return self._next_compensation(now)
            if step_index + 1 < len(self.steps):
                return [self._run_step(step_index + 1, 1, now)]
            return [self._finish(SagaStatus.COMPLETED)]
        state.last_error = error or outcome.value
        policy = self.definition.steps[step_index].retry
        if retryable and attempt < policy.max_attempts and self.abort_reason is None:
            state.status = StepStatus.RETRY_SCHEDULED
            state.retry_at = now + policy.delay(attempt, jitter)
            return [ScheduleStepRetry(self.saga_id, step_index, self._name(step_index), attempt + 1, state.retry_at)]
        return self._stop_step(step_index, now)

    def _stop_step(self, step_index: int, now: float) -> list[SagaCommand]:
        """The step failed for good (or was stopped by an abort): compensate what was executed."""
        state = self.steps[step_index]
        state.status = StepStatus.FAILED
        state.retry_at = None
        state.executed = self.definition.steps[step_index].compensate_if_failed
        if self.abort_reason is None:
            self.failed_step = step_index
        self.status = SagaStatus.COMPENSATING
        return self._next_compensation(now)

    def abort(self, reason: str, now: float, grace_seconds: float) -> list[SagaCommand]:
        """Stop the saga: start no further step, await the attempt in flight (up to `grace_seconds`), then
        compensate every executed step in reverse order. Only a running saga is aborted; a repeat changes nothing.
        """
        if self.status is not SagaStatus.RUNNING or self.abort_reason is not None:
            return []
        self.abort_reason = reason
        for index, state in enumerate(self.steps):
            if state.status is StepStatus.RUNNING:
                return [SagaAbortAccepted(self.saga_id, reason, index, state.attempt, now + grace_seconds)]
            if state.status is StepStatus.RETRY_SCHEDULED:
                return [SagaAbortAccepted(self.saga_id, reason), *self._stop_step(index, now)]
        raise AssertionError(f"saga {self.saga_id} is running without a step in progress")

    def on_step_retry_due(self, step_index: int, attempt: int, now: float) -> list[SagaCommand]:
        """A scheduled retry fell due: run attempt `attempt` of the step (duplicates change nothing)."""
        if self.status is not SagaStatus.RUNNING or not 0 <= step_index < len(self.steps):
            return []
        state = self.steps[step_index]
        if state.status is not StepStatus.RETRY_SCHEDULED or attempt != state.attempt + 1:
            return []
        state.retry_at = None
        return [self._run_step(step_index, attempt, now)]

    def on_compensation_result(
        self,
        step_index: int,
        attempt: int,
        outcome: Outcome | str,
        now: float,
        *,
        error: str = "",
        jitter: float = 0.0,
    ) -> list[SagaCommand]:
        """Consume the result of attempt `attempt` of step `step_index`'s compensation."""
        outcome = Outcome(outcome)
        if self.status is not SagaStatus.COMPENSATING or not self._is_compensating(step_index, attempt):
            return []
        state = self.steps[step_index]
        state.compensation_deadline = None
        if outcome is Outcome.SUCCEEDED:
            state.status = StepStatus.COMPENSATED
            self.compensation_order.append(step_index)
            return self._next_compensation(now)
        state.last_error = error or outcome.value
        policy = self.definition.steps[step_index].compensation_retry
        if attempt < policy.max_attempts:
            state.status = StepStatus.COMPENSATION_RETRY_SCHEDULED
            state.compensation_retry_at = now + policy.delay(attempt, jitter)
            at = state.compensation_retry_at
            return [ScheduleCompensationRetry(self.saga_id, step_index, self._name(step_index), attempt + 1, at)]
        state.status = StepStatus.COMPENSATION_ESCALATED
        self.status = SagaStatus.COMPENSATION_ESCALATED
        return [
            EscalateCompensation(
                saga_id=self.saga_id,
                step_index=step_index,
                step_name=self._name(step_index),
                attempts=attempt,
                error=state.last_error,
                steps_left=tuple(self._name(j) for j in self.steps_left()),
            )
        ]

    def on_compensation_retry_due(self, step_index: int, attempt: int, now: float) -> list[SagaCommand]:
        """A scheduled compensation retry fell due: run attempt `attempt` (duplicates change nothing)."""
        if self.status is not SagaStatus.COMPENSATING or not 0 <= step_index < len(self.steps):
            return []
        state = self.steps[step_index]
        if state.status is not StepStatus.COMPENSATION_RETRY_SCHEDULED or attempt != state.compensation_attempt + 1:
            return []
        state.compensation_retry_at = None
        return [self._start_compensation(step_index, attempt, now)]

    def resolve_compensation(self, step_index: int, resolution: Resolution, now: float) -> list[SagaCommand]:
        """A human resolved an escalated compensation.

        `compensated_manually`: the effects were undone by hand; compensation moves on to the next step.
        `retry`: run the compensation again with a fresh retry budget.
        """
        if self.status is not SagaStatus.COMPENSATION_ESCALATED or not 0 <= step_index < len(self.steps):
            return []
        if resolution not in ("compensated_manually", "retry"):
            raise ValueError(f"unknown resolution {resolution!r}")
        state = self.steps[step_index]
        if state.status is not StepStatus.COMPENSATION_ESCALATED:
            return []
        self.status = SagaStatus.COMPENSATING
        if resolution == "retry":
            return [self._start_compensation(step_index, 1, now)]
        state.status = StepStatus.COMPENSATED
        state.compensated_manually = True
        self.compensation_order.append(step_index)
        return self._next_compensation(now)

    def check_timeouts(self, now: float, *, jitter: float = 0.0) -> list[SagaCommand]:
        """Treat the attempt in flight as timed out if its deadline has passed by `now`."""
        for index, state in enumerate(self.steps):
            if state.status is StepStatus.RUNNING and state.deadline is not None and now >= state.deadline:
                return self.on_step_result(index, state.attempt, Outcome.TIMED_OUT, now, jitter=jitter)
            if (
                state.status is StepStatus.COMPENSATING
                and state.compensation_deadline is not None
                and now >= state.compensation_deadline
            ):
                return self.on_compensation_result(
                    index, state.compensation_attempt, Outcome.TIMED_OUT, now, jitter=jitter
                )
        return []

    def steps_left(self) -> list[int]:
        """Executed steps with a compensation not yet done, in the order they will be undone."""
        return [
            index
            for index in reversed(range(len(self.steps)))
            if self.steps[index].executed
            and self.definition.steps[index].compensation is not None
            and self.steps[index].status is not StepStatus.COMPENSATED
        ]

    def _next_compensation(self, now: float) -> list[SagaCommand]:
        remaining = self.steps_left()
        if not remaining:
            undone = self.compensation_order or self.abort_reason is not None
            return [self._finish(SagaStatus.COMPENSATED if undone else SagaStatus.FAILED)]
        return [self._start_compensation(remaining[0], 1, now)]

    def _run_step(self, index: int, attempt: int, now: float) -> RunStep:
        step = self.definition.steps[index]
        state = self.steps[index]
        state.status = StepStatus.RUNNING
        state.attempt = attempt
        state.deadline = now + step.timeout_seconds if step.timeout_seconds is not None else None
        return RunStep(self.saga_id, index, step.name, attempt, step.action, state.deadline)

    def _start_compensation(self, index: int, attempt: int, now: float) -> StartCompensation:
        step = self.definition.steps[index]
        if step.compensation is None:
            raise AssertionError(f"step {step.name!r} has no compensation")
        state = self.steps[index]
        state.status = StepStatus.COMPENSATING
        state.compensation_attempt = attempt
        timeout = step.compensation_timeout_seconds
        state.compensation_deadline = now + timeout if timeout is not None else None
        return StartCompensation(
            self.saga_id, index, step.name, attempt, step.compensation, state.compensation_deadline
        )

    def _name(self, index: int) -> str:
        return self.definition.steps[index].name

    def _finish(self, status: SagaStatus) -> SagaFinished:
        self.status = status
        return SagaFinished(self.saga_id, status)

    def _is_running(self, index: int, attempt: int) -> bool:
        return (
            0 <= index < len(self.steps)
            and self.steps[index].status is StepStatus.RUNNING
            and self.steps[index].attempt == attempt
        )

    def _is_compensating(self, index: int, attempt: int) -> bool:
        return (
            0 <= index < len(self.steps)
            and self.steps[index].status is StepStatus.COMPENSATING
            and self.steps[index].compensation_attempt == attempt
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form, including the definition the run started with."""
        return {
            "saga_id": self.saga_id,
            "definition": self.definition.to_dict(),
            "status": self.status.value,
            "steps": [state.to_dict() for state in self.steps],
            "failed_step": self.failed_step,
            "compensation_order": list(self.compensation_order),
            "abort_reason": self.abort_reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SagaInstance:
        """Inverse of `to_dict`."""
        instance = cls(data["saga_id"], SagaDefinition.from_dict(data["definition"]))
        instance.status = SagaStatus(data["status"])
        instance.steps = [StepState.from_dict(state) for state in data["steps"]]
        instance.failed_step = data.get("failed_step")
        instance.compensation_order = [int(i) for i in data.get("compensation_order", [])]
        instance.abort_reason = data.get("abort_reason")
        return instance
