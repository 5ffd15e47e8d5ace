"""The orchestrator's decisions: (what we know about a goal, an incoming event) -> (what we know now, events to
emit). Pure apart from stamping times on the envelopes it builds; every emitted id derives from the causing
event, so handling a redelivered event again emits the very same events (de-duplicated downstream).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from services.orchestrator import saga_groups
from services.orchestrator.decision_gates import BadGate, gate_for, gated
from services.orchestrator.decision_gates import problems as gate_problems
from services.orchestrator.decision_gates import request as gate_request
from services.orchestrator.goal_progress import GoalProgress
from services.orchestrator.goal_record import DECOMPOSE_OPERATOR, PLANNING_CAPABILITY, GoalRecord
from services.orchestrator.htn import (
    Domain,
    NoMethodApplies,
    Plan,
    PlanRejection,
    candidate_method_from_plan,
    plan,
    replan,
    validate_agent_plan,
)
from services.orchestrator.tier_timeouts import TierTimeouts
from services.orchestrator.timeout_checks import TimeoutCheck, check_delay, first_deadline, needs_new_check
from shared.bus.consumer import RejectRecord
from shared.events.catalogue.goals import (
    ApprovalGranted,
    ApprovalRejected,
    ApprovalRequested,
    GoalCancelled,
    GoalCompleted,
    GoalFailed,
    GoalPlanned,
    GoalSubmitted,
    MethodLearned,
    PlannedTask,
    PlanRejected,
)
from shared.events.catalogue.tasks import TaskCreated, TaskTimedOut, TaskTimeoutElapsed
from shared.events.codec import caused_by
from shared.events.envelope import Envelope, Payload

PRODUCER = "orchestrator"
MAX_PLANNER_ATTEMPTS = 2


@dataclass(frozen=True)
class Delayed:
    """An event to deliver later through the scheduler."""

    event: Envelope[Any]
    delay_s: float


@dataclass(frozen=True)
class Context:
    domain: Domain
    fleet_capabilities: frozenset[str]
    timeouts: TierTimeouts = field(default_factory=TierTimeouts)
    approvers: frozenset[str] = frozenset()
    """Who may approve gates; empty means anyone the gateway let through with the approve scope."""
    now: float = 0.0
    fleet: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Each registered agent's capabilities (decision gates find their electorate by capability here)."""


@dataclass
class Decision:
    record: GoalRecord | None
    emit: list[Envelope[Any] | Delayed] = field(default_factory=list)


def decide(record: GoalRecord | None, event: Envelope[Any], ctx: Context) -> Decision:
    """Apply one command or event to a goal."""
    handler = _HANDLERS.get(event.type)
    if handler is None or (record is None and event.type != "SubmitGoal"):
        return Decision(record)
    if record is not None and record.finished and event.type not in ("SubmitGoal",):
        return Decision(record)
    return handler(record, event, ctx)


class _Emitter:
    """Builds the events one incoming event causes, each with an id derived from it and a kind."""

    def __init__(self, cause: Envelope[Any], goal_id: str) -> None:
        self.cause, self.goal_id, self.out = cause, goal_id, []

    def __call__(self, payload: Payload, kind: str, stream_id: str | None = None) -> Envelope[Any]:
        event = caused_by(self.cause, payload, producer=PRODUCER, kind=kind, stream_id=stream_id or self.goal_id)
        self.out.append(event)
        return event

    def later(self, payload: Payload, kind: str, delay_s: float) -> None:
        event = caused_by(self.cause, payload, producer=PRODUCER, kind=kind, stream_id=self.goal_id)
        self.out.append(Delayed(event, delay_s))


def _submit(record: GoalRecord | None, e: Envelope[Any], ctx: Context) -> Decision:
    if record is not None:
        return Decision(record)  # a resubmitted or redelivered command: the goal already exists
    p = e.payload
    emit = _Emitter(e, p.goal_id)
    emit(
        GoalSubmitted(
            goal_id=p.goal_id,
            goal_type=p.goal_type,
            title=p.title,
            params=p.params,
            priority=p.priority,
            submitted_by=p.submitted_by,
        ),
        "submitted",
    )
    record = GoalRecord(p.goal_id, p.goal_type, dict(p.params), p.priority)
    found = plan(p.goal_type, dict(p.params), frozenset(), ctx.domain)
    return Decision(_start_plan(record, found, emit, ctx), emit.out)


def _start_plan(record: GoalRecord, found: Plan | NoMethodApplies, emit: _Emitter, ctx: Context) -> GoalRecord:
    if isinstance(found, NoMethodApplies):
        return _ask_planner_agent(record, emit, list(found.reasons), ctx)
    if problems := saga_groups.problems(found):
        emit(GoalFailed(goal_id=record.goal_id, reason="the plan's sagas cannot run: " + "; ".join(problems)), "failed")
        return record.with_(plan=found, status="failed")
    if bad_gates := gate_problems(found, record.goal_id, record.params):
        emit(GoalFailed(goal_id=record.goal_id, reason="; ".join(bad_gates)), f"failed:gates:{record.revision}")
        return record.with_(plan=found, status="failed")
    found = gated(found, record.goal_id, record.params)
    record = record.with_(plan=found, progress=GoalProgress.from_plan(record.goal_id, found), status="running")
    emit(
        GoalPlanned(
            goal_id=record.goal_id,
            method=found.method,
            source=found.source,
            tasks=[
                PlannedTask(
                    task_id=record.task_id(t.step_id),
                    operator=t.operator,
                    capability=t.capability,
                    depends_on=[record.task_id(d) for d in t.depends_on],
                    requires_approval=t.requires_approval,
                    tier=t.tier,
                )
                for t in found.tasks
            ],
        ),
        f"planned:{record.revision}",
    )
    return _advance(record, emit, ctx)


def _ask_planner_agent(record: GoalRecord, emit: _Emitter, reasons: list[str], ctx: Context) -> GoalRecord:
    if record.planner_attempts >= MAX_PLANNER_ATTEMPTS:
        emit(
            GoalFailed(
                goal_id=record.goal_id,
                reason="no method applies and the planner agent's plans were rejected: " + "; ".join(reasons[-3:]),
            ),
            "failed:planning",
        )
        return record.with_(status="failed")
    record = record.with_(planner_attempts=record.planner_attempts + 1, status="planning")
    operators = sorted(op.name for op in ctx.domain.operators)
    emit(
        TaskCreated(
            task_id=record.decompose_task_id(),
            goal_id=record.goal_id,
            operator=DECOMPOSE_OPERATOR,
            capability=PLANNING_CAPABILITY,
            tier="manager",
            priority=record.priority,
            inputs={
                "goal_type": record.goal_type,
                "params": dict(record.params),
                "operators": operators,
                "fleet_capabilities": sorted(ctx.fleet_capabilities),
                "previous_rejections": reasons,
            },
            timeout_s=ctx.timeouts.for_tier("manager"),
        ),
        f"decompose:{record.planner_attempts}",
    )
    return record


def _advance(record: GoalRecord, emit: _Emitter, ctx: Context) -> GoalRecord:
    """Release what is ready, ask for due approvals, and close the goal when it is done."""
    assert record.plan is not None and record.progress is not None
    progress = record.progress
    for step in progress.approvals_due():
        progress = progress.request_approval(step, ctx.now)
        task = record.plan.task(step)
        if _ask_for_decision(record, task, emit, ctx):
            continue
        emit(
            ApprovalRequested(
                goal_id=record.goal_id,
                task_id=record.task_id(step),
                operator=task.operator,
                prompt=f"approve '{task.operator}' for goal {record.goal_id}?",
            ),
            f"approval:{step}",
        )
    for name in saga_groups.startable(record.plan, progress):
        progress = _start_saga(record, name, progress, emit, ctx)
        record = record.with_(
            running_sagas=(*record.running_sagas, saga_groups.saga_id(record.goal_id, record.revision, name))
        )
    for step in progress.releasable():
        task = record.plan.task(step)
        if task.saga is not None:
            continue  # started with its saga
        progress = progress.release(step, ctx.now)
        inputs = {**dict(record.params), **dict(task.inputs)}
        emit(
            TaskCreated(
                task_id=record.task_id(step),
                goal_id=record.goal_id,
                operator=task.operator,
                capability=task.capability,
                tier=task.tier,
                inputs=inputs,
                priority=record.priority,
                depends_on=[record.task_id(d) for d in task.depends_on],
                timeout_s=ctx.timeouts.for_tier(task.tier),
                strategy=_strategy(record),
            ),
            f"created:{record.revision}:{step}",
        )
    record = record.with_(progress=progress)
    if progress.is_finished:
        emit(GoalCompleted(goal_id=record.goal_id, tasks_succeeded=len(progress.tasks)), "completed")
        return record.with_(status="completed")
    return record


def _start_saga(record: GoalRecord, name: str, progress: GoalProgress, emit: _Emitter, ctx: Context) -> GoalProgress:
    """One StartSaga for the steps of saga ``name``, which are released (to the saga coordinator) together."""
    assert record.plan is not None
    command = saga_groups.start_command(
        record.goal_id, record.revision, name, record.plan, record.params, ctx.domain, ctx.timeouts
    )
    emit(command, f"saga:{record.revision}:{name}", stream_id=command.saga_id)
    return progress.release_saga(saga_groups.groups(record.plan)[name], ctx.now)


def _saga_ended(record: GoalRecord | None, e: Envelope[Any], ctx: Context) -> Decision:
    """A saga of the goal's steps ended: completed, its steps succeeded; otherwise the goal fails (undone)."""
    assert record is not None
    p = e.payload
    record = record.with_(running_sagas=tuple(s for s in record.running_sagas if s != p.saga_id))
    parsed = saga_groups.parse_saga_id(p.saga_id)
    if parsed is None or parsed[1] != record.revision or record.plan is None or record.progress is None:
        return Decision(record)  # a saga of an earlier plan revision
    steps = saga_groups.groups(record.plan).get(p.saga, ())
    if not steps or any(record.progress.task(s).state != "released" for s in steps):
        return Decision(record)  # already applied (a redelivery)
    emit = _Emitter(e, record.goal_id)
    progress = record.progress
    if p.outcome == "completed":
        for step in steps:
            progress = progress.succeed(step, progress.task(step).attempt, ctx.now)
        return Decision(_advance(record.with_(progress=progress), emit, ctx), emit.out)
    failed = saga_groups.failed_task(steps, p.failed_step)
    progress = progress.fail(failed, progress.task(failed).attempt, ctx.now, final=True)
    undone = ", ".join(saga_groups.step_names(steps).get(s, s) for s in p.compensated_steps) or "nothing"
    emit(
        GoalFailed(
            goal_id=record.goal_id,
            reason=f"saga '{p.saga}' {p.outcome} at step {failed} ({p.reason or 'failed for good'}); undone: {undone}",
            failed_task_id=record.task_id(failed),
        ),
        "failed",
    )
    return Decision(record.with_(progress=progress, status="failed"), emit.out)


def _ask_for_decision(record: GoalRecord, task: Any, emit: _Emitter, ctx: Context) -> bool:
    """A decision gate (see :mod:`.decision_gates`): send RequestDecision, or, when no electorate can be found,
    ask a human instead (ApprovalRequested); False when the step is an ordinary approval gate."""
    task_id = record.task_id(task.step_id)
    try:
        spec = gate_for(task, record.goal_id, record.params)
        if spec is None:
            return False
        request = gate_request(spec, record.goal_id, task_id, ctx.fleet)
    except BadGate as bad:
        prompt = f"{bad}; approve '{task.operator}' for goal {record.goal_id}?"
        emit(
            ApprovalRequested(goal_id=record.goal_id, task_id=task_id, operator=task.operator, prompt=prompt),
            f"approval:{task.step_id}",
        )
        return True
    event = caused_by(emit.cause, request, producer=PRODUCER, kind=f"gate:{task_id}", stream_id=request.decision_id)
    emit.out.append(event)
    return True


def _gate_settled(record: GoalRecord | None, e: Envelope[Any], ctx: Context) -> Decision:
    """The decision a gated step waits for ended: release the step, or fail the goal (or ask a human)."""
    assert record is not None
    p = e.payload
    step = record.step_of(p.task_id)
    if step is None or record.plan is None or record.progress is None:
        return Decision(record)  # a gate of an earlier plan revision
    if record.progress.task(step).state != "awaiting_approval":
        return Decision(record)  # already settled (a redelivery), or decided by a human first
    emit = _Emitter(e, record.goal_id)
    task = record.plan.task(step)
    if p.accepted:
        approved = ApprovalGranted(
            goal_id=record.goal_id, task_id=p.task_id, approver=f"decision:{p.decision_id}", comment=p.choice or ""
        )
        emit(approved, "gate-granted")
        record = record.with_(progress=record.progress.approve(step, ctx.now))
        return Decision(_advance(record, emit, ctx), emit.out)
    outcome = f"chose {p.choice!r}" if p.choice is not None else f"reached no choice: {p.reason}"
    why = f"decision {p.decision_id} {outcome}"
    try:
        spec = gate_for(task, record.goal_id, record.params)
    except BadGate:
        spec = None
    if spec is not None and spec.on_reject == "approval":
        prompt = f"{why}; approve '{task.operator}' for goal {record.goal_id} anyway?"
        asked = ApprovalRequested(goal_id=record.goal_id, task_id=p.task_id, operator=task.operator, prompt=prompt)
        emit(asked, "gate-escalated")
        return Decision(record, emit.out)
    emit(
        ApprovalRejected(goal_id=record.goal_id, task_id=p.task_id, approver=f"decision:{p.decision_id}", reason=why),
        "gate-rejected",
    )
    emit(GoalFailed(goal_id=record.goal_id, reason=f"gate of {p.task_id}: {why}", failed_task_id=p.task_id), "failed")
    return Decision(record.with_(progress=record.progress.reject(step, ctx.now), status="failed"), emit.out)


def _strategy(record: GoalRecord) -> str:
    strategy = str(record.params.get("strategy", "least_loaded"))
    return strategy if strategy in ("least_loaded", "priority", "auction", "drift_aware") else "least_loaded"


def _on_task(
    update: Callable[[GoalProgress, str, Envelope[Any], Context], GoalProgress], advance: bool = False
) -> Callable[[GoalRecord | None, Envelope[Any], Context], Decision]:
    def handle(record: GoalRecord | None, e: Envelope[Any], ctx: Context) -> Decision:
        assert record is not None
        step = record.step_of(e.payload.task_id)
        if step is None or record.progress is None:
            return Decision(record)
        progress = update(record.progress, step, e, ctx)
        if progress == record.progress:
            return Decision(record)
        record = record.with_(progress=progress)
        emit = _Emitter(e, record.goal_id)
        if advance:
            record = _advance(record, emit, ctx)
        return Decision(record, emit.out)

    return handle


def _assigned(record: GoalRecord | None, e: Envelope[Any], ctx: Context) -> Decision:
    """The timeout clock of an attempt starts at assignment; its check is scheduled, never slept on (one check
    pending per goal, see ``timeout_checks``)."""
    assert record is not None
    step = record.step_of(e.payload.task_id)
    if step is None or record.progress is None or record.plan is None:
        return Decision(record)
    progress = record.progress.assign(step, e.payload.agent_id, e.payload.attempt, ctx.now)
    emit = _Emitter(e, record.goal_id)
    if progress == record.progress:
        _schedule_pending_again(record, emit, ctx)
        return Decision(record, emit.out)
    return Decision(_check_first_deadline(record.with_(progress=progress), emit, ctx), emit.out)


def _check_first_deadline(record: GoalRecord, emit: _Emitter, ctx: Context) -> GoalRecord:
    """Schedule a timeout check for the goal's first deadline, unless the pending check is due no later."""
    assert record.progress is not None
    first = first_deadline(record.progress, ctx.timeouts)
    if first is None or not needs_new_check(record.timeout_check, first[1], ctx.now):
        return record
    task, deadline = first
    pending = TimeoutCheck(record.task_id(task.step_id), task.attempt, deadline, str(emit.cause.event_id))
    _schedule(record, pending, emit, ctx)
    return record.with_(timeout_check=pending)


def _schedule_pending_again(record: GoalRecord, emit: _Emitter, ctx: Context) -> bool:
    """An event delivered again whose first handling scheduled the pending check schedules it again: the record
    may have been saved while the check was lost. Same id, so the scheduler keeps one timer. True if it did."""
    pending = record.timeout_check
    if pending is None or pending.scheduled_by != str(emit.cause.event_id):
        return False
    _schedule(record, pending, emit, ctx)
    return True


def _schedule(record: GoalRecord, check: TimeoutCheck, emit: _Emitter, ctx: Context) -> None:
    elapsed = TaskTimeoutElapsed(task_id=check.task_id, goal_id=record.goal_id, attempt=check.attempt)
    emit.later(elapsed, f"timeout:{check.task_id}:{check.attempt}", check_delay(check.due, ctx.now))


def _succeeded(record: GoalRecord | None, e: Envelope[Any], ctx: Context) -> Decision:
    assert record is not None
    if e.payload.task_id == record.decompose_task_id() and record.status == "planning":
        return _agent_plan_returned(record, e, ctx)
    return _on_task(lambda pr, step, ev, c: pr.succeed(step, ev.payload.attempt, c.now), advance=True)(record, e, ctx)


def _agent_plan_returned(record: GoalRecord, e: Envelope[Any], ctx: Context) -> Decision:
    emit = _Emitter(e, record.goal_id)
    proposal = e.payload.output.get("plan") if isinstance(e.payload.output, dict) else None
    checked = validate_agent_plan(proposal, ctx.domain, ctx.fleet_capabilities, goal_type=record.goal_type)
    if isinstance(checked, PlanRejection):
        emit(PlanRejected(goal_id=record.goal_id, reasons=list(checked.reasons)), f"rejected:{record.planner_attempts}")
        return Decision(_ask_planner_agent(record, emit, list(checked.reasons), ctx), emit.out)
    learned = candidate_method_from_plan(record.goal_type, checked)
    emit(
        MethodLearned(
            goal_type=record.goal_type,
            method=learned.name,
            goal_id=record.goal_id,
            steps=[
                PlannedTask(
                    task_id=t.step_id,
                    operator=t.operator,
                    capability=t.capability,
                    depends_on=list(t.depends_on),
                    requires_approval=t.requires_approval,
                    tier=t.tier,
                )
                for t in checked.tasks
            ],
        ),
        "learned",
    )
    return Decision(_start_plan(record, checked, emit, ctx), emit.out)


def _abandoned(record: GoalRecord | None, e: Envelope[Any], ctx: Context) -> Decision:
    """A task failed for good: try another method once, else the goal fails."""
    assert record is not None
    emit = _Emitter(e, record.goal_id)
    if e.payload.task_id == record.decompose_task_id() and record.status == "planning":
        return Decision(_ask_planner_agent(record, emit, [f"planner task failed: {e.payload.reason}"], ctx), emit.out)
    step = record.step_of(e.payload.task_id)
    if step is None or record.plan is None or record.progress is None:
        return Decision(record)
    failed_method = record.plan.task(step).method or record.plan.method
    if record.plan.source == "method":
        alternative = replan(
            record.goal_type, dict(record.params), frozenset(), ctx.domain, failed_method, record.plan.excluded_methods
        )
        if isinstance(alternative, Plan):
            record = record.with_(revision=record.revision + 1, excluded_methods=alternative.excluded_methods)
            return Decision(_start_plan(record, alternative, emit, ctx), emit.out)
    progress = record.progress.fail(step, e.payload.attempt, ctx.now, final=True)
    emit(
        GoalFailed(
            goal_id=record.goal_id,
            reason=f"task {e.payload.task_id} failed: {e.payload.reason}",
            failed_task_id=e.payload.task_id,
        ),
        "failed",
    )
    return Decision(record.with_(progress=progress, status="failed"), emit.out)


def _timeout_elapsed(record: GoalRecord | None, e: Envelope[Any], ctx: Context) -> Decision:
    """A timeout check fired: every working task past its tier timeout times out (each is retried as the
    assigner decides); the goal's pending check then schedules the next (``timeout_checks``)."""
    assert record is not None
    if record.progress is None or record.plan is None:
        return Decision(record)
    emit = _Emitter(e, record.goal_id)
    if _schedule_pending_again(record, emit, ctx):  # handled before: it swept already
        return Decision(record, emit.out)
    progress = record.progress
    for task in progress.overdue(ctx.now, ctx.timeouts):
        task_id, limit = record.task_id(task.step_id), ctx.timeouts.for_tier(task.tier) or 0.0
        timed_out = TaskTimedOut(task_id=task_id, goal_id=record.goal_id, attempt=task.attempt, timeout_s=limit)
        emit(timed_out, f"timed-out:{task_id}:{task.attempt}")
        progress = progress.time_out(task.step_id, task.attempt, ctx.now, final=False)
    after = record.with_(progress=progress)
    pending = record.timeout_check
    if pending is None or pending.is_for(e.payload.task_id, e.payload.attempt):
        after = _check_first_deadline(after.with_(timeout_check=None), emit, ctx)
    return Decision(after, emit.out)


def _gate(approve: bool) -> Callable[[GoalRecord | None, Envelope[Any], Context], Decision]:
    def handle(record: GoalRecord | None, e: Envelope[Any], ctx: Context) -> Decision:
        assert record is not None
        p = e.payload
        step = record.step_of(p.task_id)
        if step is None or record.progress is None or record.progress.task(step).state != "awaiting_approval":
            return Decision(record)
        if ctx.approvers and p.approver not in ctx.approvers:
            raise RejectRecord("forbidden", f"{p.approver!r} may not decide gates (ARCHITECT_APPROVERS)")
        emit = _Emitter(e, record.goal_id)
        if approve:
            emit(
                ApprovalGranted(goal_id=record.goal_id, task_id=p.task_id, approver=p.approver, comment=p.comment),
                "granted",
            )
            record = record.with_(progress=record.progress.approve(step, ctx.now))
            return Decision(_advance(record, emit, ctx), emit.out)
        emit(
            ApprovalRejected(goal_id=record.goal_id, task_id=p.task_id, approver=p.approver, reason=p.reason),
            "rejected",
        )
        emit(
            GoalFailed(
                goal_id=record.goal_id,
                reason=f"{p.approver} rejected {p.task_id}: {p.reason}",
                failed_task_id=p.task_id,
            ),
            "failed",
        )
        return Decision(record.with_(progress=record.progress.reject(step, ctx.now), status="failed"), emit.out)

    return handle


def _cancel(record: GoalRecord | None, e: Envelope[Any], ctx: Context) -> Decision:
    assert record is not None
    emit = _Emitter(e, record.goal_id)
    emit(GoalCancelled(goal_id=record.goal_id, reason=e.payload.reason), "cancelled")
    for saga_id in _running_sagas(record):
        abort = saga_groups.abort_command(saga_id, e.payload.reason)
        emit(abort, f"abort-saga:{saga_id}", stream_id=saga_id)
    progress = record.progress.cancel(ctx.now) if record.progress else None
    return Decision(record.with_(progress=progress, status="cancelled", running_sagas=()), emit.out)


def _running_sagas(record: GoalRecord) -> list[str]:
    """The goal's sagas not ended: as recorded, and (for records of earlier versions) the current revision's."""
    found = list(record.running_sagas)
    if record.plan is not None and record.progress is not None:
        for name in saga_groups.running(record.plan, record.progress):
            saga_id = saga_groups.saga_id(record.goal_id, record.revision, name)
            if saga_id not in found:
                found.append(saga_id)
    return found


#: TaskStarted is not among them: it always follows its attempt's TaskAssigned on the goal's partition and changes
#: nothing decided here (the timeout clock starts at assignment), so the stream skips it by header, undecoded.
_HANDLERS: dict[str, Callable[[GoalRecord | None, Envelope[Any], Context], Decision]] = {
    "SubmitGoal": _submit,
    "CancelGoal": _cancel,
    "ApproveGate": _gate(approve=True),
    "RejectGate": _gate(approve=False),
    "TaskAssigned": _assigned,
    "TaskSucceeded": _succeeded,
    "TaskFailed": _on_task(lambda pr, step, ev, c: pr.fail(step, ev.payload.attempt, c.now, final=False)),
    "TaskAbandoned": _abandoned,
    "TaskTimeoutElapsed": _timeout_elapsed,
    "DecisionGateSettled": _gate_settled,
    "GoalSagaEnded": _saga_ended,
}


def handled_types() -> Iterable[str]:
    return _HANDLERS
