"""Turning a finished (or refused) run into the outcome event that reports it, under the agent's token budget.

A success whose tokens take the agent past its budget is reported as ``TaskFailed("budget")``: the tokens were
spent and count, but the agent is over its allowance, so its output is not accepted. Findings are only posted
for a success, and malformed findings make the output ``invalid``. NUL characters in outputs and errors (binary
output of a command, say) become U+FFFD: the event log cannot store them, and consumers would refuse the event.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from services.agent_runtime.backends.contract import BackendResult
from services.agent_runtime.blackboard import MalformedFindings, findings_in
from services.agent_runtime.ledger import AssignmentKey
from services.agent_runtime.token_budget import TokenBudget
from shared.events.catalogue.tasks import ErrorClass, TaskFailed, TaskSucceeded
from shared.events.catalogue.work import ExecuteTask, FindingPosted
from shared.events.storable import replace_nul


@dataclass(frozen=True)
class Completion:
    """What a run produced: a result, or an error class and message; and how long it took."""

    key: AssignmentKey
    duration_ms: int
    result: BackendResult | None = None
    error_class: ErrorClass | None = None
    error: str = ""

    def __post_init__(self) -> None:
        if (self.result is None) == (self.error_class is None):
            raise ValueError("a completion has either a result or an error class")

    @classmethod
    def succeeded(cls, key: AssignmentKey, result: BackendResult, duration_ms: int) -> Completion:
        return cls(key, max(duration_ms, 0), result=result)

    @classmethod
    def failed(cls, key: AssignmentKey, error_class: ErrorClass, error: str, duration_ms: int) -> Completion:
        return cls(key, max(duration_ms, 0), error_class=error_class, error=error)


@dataclass(frozen=True)
class Settlement:
    """The outcome to publish, the findings to post before it, and the agent's budget afterwards."""

    outcome: TaskSucceeded | TaskFailed
    findings: tuple[FindingPosted, ...]
    budget: TokenBudget

    @property
    def succeeded(self) -> bool:
        return isinstance(self.outcome, TaskSucceeded)


def refusal(command: ExecuteTask, capabilities: Collection[str], budget: TokenBudget) -> Completion | None:
    """A failure to report without running the task (the agent lacks its capability, or its budget is spent)."""
    key = AssignmentKey(command.agent_id, command.task_id, command.attempt)
    if command.capability not in capabilities:
        return Completion.failed(key, "invalid", f"agent has no capability '{command.capability}'", 0)
    if budget.exhausted:
        return Completion.failed(key, "budget", f"token budget spent: {budget.used} of {budget.limit} used", 0)
    return None


def settle(command: ExecuteTask, completion: Completion, budget: TokenBudget) -> Settlement:
    """The events reporting ``completion`` of ``command``, and ``budget`` charged with its tokens."""
    ids = {
        "task_id": command.task_id,
        "goal_id": command.goal_id,
        "agent_id": command.agent_id,
        "attempt": command.attempt,
    }
    result = completion.result
    if result is None:
        assert completion.error_class is not None
        failed = TaskFailed(
            **ids,
            error_class=completion.error_class,
            error=replace_nul(completion.error),
            duration_ms=completion.duration_ms,
        )
        return Settlement(failed, (), budget)
    charged = budget.charge(result.tokens_used)
    if budget.would_exceed(result.tokens_used):
        error = (
            f"the task used {result.tokens_used} tokens; with {budget.used} used before, "
            f"that exceeds the budget of {budget.limit}"
        )
        return Settlement(
            TaskFailed(**ids, error_class="budget", error=error, duration_ms=completion.duration_ms), (), charged
        )
    try:
        output = replace_nul(result.output)
        findings = findings_in(output, goal_id=command.goal_id, task_id=command.task_id, agent_id=command.agent_id)
    except MalformedFindings as exc:
        failed = TaskFailed(**ids, error_class="invalid", error=str(exc), duration_ms=completion.duration_ms)
        return Settlement(failed, (), charged)
    succeeded = TaskSucceeded(**ids, output=output, tokens_used=result.tokens_used, duration_ms=completion.duration_ms)
    return Settlement(succeeded, findings, charged)
