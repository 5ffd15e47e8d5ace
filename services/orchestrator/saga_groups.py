"""Sagas inside a goal: the plan steps marked with the same ``saga`` run as one saga of the saga coordinator.

The orchestrator does not release such steps one by one. Once every step outside the group that the group
waits for has succeeded, it sends one StartSaga whose inline definition lists the group's steps in plan order
(each an operator task, undone by the step's ``compensation`` when it has one). The saga's end is the group's
outcome: completed, and every step of the group succeeded; compensated or failed, and the goal fails after the
saga undid what it had done. Saga events are keyed by saga id, so the orchestrator relays their end onto the
goal's partition as ``GoalSagaEnded`` (``relay``).

Cancelling the goal aborts each of its sagas still running (``AbortSaga``, keyed by the saga like the StartSaga
before it, so the coordinator always reads the start first): no further step starts and the executed steps are
undone in reverse order.

Pure: plans, progress and envelopes in, commands and envelopes out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from services.orchestrator.goal_progress import GoalProgress
from services.orchestrator.htn import Domain, Plan
from services.orchestrator.tier_timeouts import TierTimeouts
from shared.events.catalogue.goals import GoalSagaEnded
from shared.events.catalogue.sagas import AbortSaga, StartSaga
from shared.events.codec import caused_by
from shared.events.envelope import Envelope

PRODUCER = "orchestrator"
_MARK = "/saga/"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
_TAIL = re.compile(r"^r(\d+)/([a-z][a-z0-9_]*)$")
CANCELLED = "goal cancelled"
ENDINGS = {"SagaCompleted": "completed", "SagaCompensated": "compensated", "SagaFailed": "failed"}


def groups(plan: Plan) -> dict[str, tuple[str, ...]]:
    """Each saga's steps, in plan order (dependencies first), by saga name."""
    found: dict[str, list[str]] = {}
    for task in plan.tasks:
        if task.saga is not None:
            found.setdefault(task.saga, []).append(task.step_id)
    return {name: tuple(steps) for name, steps in found.items()}


def problems(plan: Plan) -> list[str]:
    """Why this plan's sagas cannot run: a name saga definitions refuse, a gated step in a saga, or a step outside
    a saga that waits for one of its steps while another of its steps waits for it (the saga would wait for
    itself). Agent-written plans name sagas freely; methods are checked when their file loads."""
    found = []
    for name, steps in groups(plan).items():
        if not _NAME.match(name):
            found.append(f"saga '{name}': a saga name is lowercase letters, digits and '_', starting with a letter")
        members = set(steps)
        found += [f"saga '{name}': step '{s}' requires approval" for s in steps if plan.task(s).requires_approval]
        outside_after = _downstream(plan, members) - members
        for step in steps:
            between = _upstream(plan, {step}) & outside_after
            if between:
                found.append(f"saga '{name}': step '{step}' waits for '{sorted(between)[0]}', which waits for the saga")
                break
    return found


def _downstream(plan: Plan, start: set[str]) -> set[str]:
    reached = set(start)
    for task in plan.tasks:  # plan order: a task comes after everything it depends on
        if reached & set(task.depends_on):
            reached.add(task.step_id)
    return reached


def _upstream(plan: Plan, start: set[str]) -> set[str]:
    reached: set[str] = set()
    frontier = [d for s in start for d in plan.task(s).depends_on]
    while frontier:
        step = frontier.pop()
        if step not in reached:
            reached.add(step)
            frontier.extend(plan.task(step).depends_on)
    return reached


def startable(plan: Plan, progress: GoalProgress) -> list[str]:
    """The sagas to start now: all their steps pending, every step outside them they wait for succeeded."""
    ready = []
    for name, steps in groups(plan).items():
        members = set(steps)
        if any(progress.task(s).state != "pending" for s in steps):
            continue
        outside = {d for s in steps for d in plan.task(s).depends_on} - members
        if all(progress.task(d).state == "succeeded" for d in outside):
            ready.append(name)
    return ready


def running(plan: Plan, progress: GoalProgress) -> list[str]:
    """The sagas started and not yet ended: every step handed to the saga coordinator, none settled since."""
    return [name for name, steps in groups(plan).items() if all(progress.task(s).state == "released" for s in steps)]


def abort_reason(cancel_reason: str) -> str:
    return f"{CANCELLED}: {cancel_reason}" if cancel_reason else CANCELLED


def abort_command(saga: str, cancel_reason: str) -> AbortSaga:
    """Stop a saga of a cancelled goal (it ends compensated with the cancellation's reason)."""
    return AbortSaga(saga_id=saga, reason=abort_reason(cancel_reason), requested_by=PRODUCER)


def saga_id(goal_id: str, revision: int, name: str) -> str:
    return f"{goal_id}{_MARK}r{revision}/{name}"


def parse_saga_id(value: str) -> tuple[str, int, str] | None:
    """(goal id, plan revision, saga name) of a saga the orchestrator started, else None."""
    goal_id, mark, tail = value.rpartition(_MARK)
    match = _TAIL.match(tail)
    if not mark or not goal_id or match is None:
        return None
    return goal_id, int(match.group(1)), match.group(2)


def step_names(steps: tuple[str, ...]) -> dict[str, str]:
    """Saga step name (``s<n>_<step id>``, as saga definitions allow) -> plan step id."""
    return {f"s{n}_{re.sub(r'[^a-z0-9_]', '_', step.lower())}": step for n, step in enumerate(steps, start=1)}


def definition(name: str, steps: tuple[str, ...], plan: Plan, domain: Domain, timeouts: TierTimeouts) -> dict[str, Any]:
    """The inline saga definition of one group: each step its operator's task, undone by its compensation."""
    body = []
    for step_name, step in step_names(steps).items():
        task = plan.task(step)
        entry: dict[str, Any] = {
            "name": step_name,
            "action": _operator(task.operator, task.capability, task.inputs),
            "timeout_seconds": timeouts.for_tier(task.tier),
        }
        if task.compensation is not None:
            compensator = domain.operator(task.compensation)
            capability = compensator.capability if compensator is not None else task.compensation
            entry["compensation"] = _operator(task.compensation, capability, task.inputs)
            entry["compensation_timeout_seconds"] = timeouts.for_tier(task.tier)
        body.append(entry)
    return {"name": name, "description": f"steps {', '.join(steps)} of a goal, as one saga", "steps": body}


def _operator(operator: str, capability: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"operator": operator, "capability": capability, "params": dict(inputs)}


def start_command(
    goal_id: str,
    revision: int,
    name: str,
    plan: Plan,
    params: Mapping[str, Any],
    domain: Domain,
    timeouts: TierTimeouts,
) -> StartSaga:
    steps = groups(plan)[name]
    return StartSaga(
        saga_id=saga_id(goal_id, revision, name),
        definition=name,
        params=dict(params),
        definition_body=definition(name, steps, plan, domain, timeouts),
        started_by=PRODUCER,
    )


def relay(event: Envelope[Any]) -> Envelope[Any] | None:
    """A saga's end, as ``GoalSagaEnded`` keyed by its goal, when the orchestrator started it; else None."""
    outcome = ENDINGS.get(event.type)
    parsed = parse_saga_id(str(getattr(event.payload, "saga_id", ""))) if outcome else None
    if outcome is None or parsed is None:
        return None
    goal_id, _revision, name = parsed
    p = event.payload
    ended = GoalSagaEnded(
        goal_id=goal_id,
        saga_id=p.saga_id,
        saga=name,
        outcome=outcome,  # type: ignore[arg-type]
        failed_step=getattr(p, "failed_step", None),
        compensated_steps=list(getattr(p, "compensated_steps", [])),
        reason=getattr(p, "reason", ""),
    )
    return caused_by(event, ended, producer=PRODUCER, kind="saga-ended", stream_id=goal_id)


def failed_task(plan_steps: tuple[str, ...], failed_step: str | None) -> str:
    """The plan step a saga reported as failed (its first step when it named none or an unknown one)."""
    return step_names(plan_steps).get(failed_step or "", plan_steps[0])
