"""Decision gates: a plan step that may only run once agents have decided to let it (pure).

A step is gated when

- its method marks it: step input ``decision: {question, tier, electorate | capability, options, accept,
  protocol, ballot_via, on_reject}`` (a string value ``${name}`` is the goal parameter ``name``), or
- the goal asks for it: goal parameter ``decide_before_deploy: true`` (or a mapping of the same fields) gates
  every step whose operator starts with ``deploy``, by default asking "is it safe to deploy?" of the fleet's
  ``review`` agents, operational tier, options yes/no, accepting yes.

The orchestrator treats a gated step like an approval gate whose approver is the consensus engine (mirroring how
sagas ask, see ``services/consensus/saga_bridge.py``): when its dependencies have succeeded it holds the step
(``awaiting_approval``) and sends RequestDecision (decision id per goal, plan revision and step; the reply
address ``goal_gate`` in its context). When the decision ends, the engine sends ``DecisionGateSettled`` to the
goal: an acceptable choice releases the step; otherwise (another choice, or no decision) the goal fails, or, with
``on_reject: approval``, the gate becomes a human approval (ApprovalRequested; ApproveGate/RejectGate decide).
A decision that escalated to a human (strategic non-convergence) keeps the step held until ResolveDecision.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import ValidationError

from services.orchestrator.htn.plan import Plan, PlannedTask
from shared.events.catalogue.decisions import RequestDecision

DECISION_INPUT = "decision"
DEPLOY_PARAM = "decide_before_deploy"
DEPLOY_PREFIX = "deploy"
REPLY_TO = "goal_gate"
OnReject = Literal["fail", "approval"]
_REFERENCE = re.compile(r"^\$\{([A-Za-z0-9_]+)\}$")
_FIELDS = ("question", "tier", "electorate", "capability", "options", "accept", "protocol", "ballot_via", "on_reject")


class BadGate(ValueError):
    """A decision gate that cannot become a request (the goal fails with this reason)."""


@dataclass(frozen=True)
class GateSpec:
    """What to ask, of whom, and what lets the step run."""

    question: str
    tier: str = "operational"
    electorate: tuple[str, ...] = ()
    capability: str | None = None
    options: tuple[str, ...] | None = ("yes", "no")
    accept: tuple[str, ...] = ("yes",)
    protocol: str | None = None
    ballot_via: str = "tasks"
    on_reject: OnReject = "fail"

    def acceptable(self, choice: str | None) -> bool:
        return choice is not None and (not self.accept or choice in self.accept)


def _resolved(value: Any, params: Mapping[str, Any]) -> Any:
    match = _REFERENCE.match(value) if isinstance(value, str) else None
    return params.get(match.group(1)) if match else value


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Sequence) or not all(isinstance(v, str) and v for v in value):
        raise BadGate(f"decision gate: '{name}' must be a list of non-empty strings")
    return tuple(value)


def _spec(fields: Mapping[str, Any], params: Mapping[str, Any], default_question: str) -> GateSpec:
    unknown = sorted(set(fields) - set(_FIELDS))
    if unknown:
        raise BadGate(f"decision gate: unknown fields {unknown} (known: {', '.join(_FIELDS)})")
    values = {k: _resolved(v, params) for k, v in fields.items() if _resolved(v, params) is not None}
    spec = GateSpec(question=str(values.get("question") or default_question))
    changes: dict[str, Any] = {}
    for name in ("tier", "capability", "protocol", "ballot_via"):
        if name in values:
            changes[name] = str(values[name])
    for name in ("electorate", "accept"):
        if name in values:
            changes[name] = _strings(values[name], name)
    if "options" in values:
        changes["options"] = _strings(values["options"], "options") if values["options"] else None
    if "on_reject" in values:
        if values["on_reject"] not in ("fail", "approval"):
            raise BadGate("decision gate: 'on_reject' must be fail or approval")
        changes["on_reject"] = values["on_reject"]
    if "capability" in changes and "electorate" not in changes:
        changes["electorate"] = ()
    return replace(spec, **changes)


def gate_for(task: PlannedTask, goal_id: str, params: Mapping[str, Any]) -> GateSpec | None:
    """The gate on ``task``, or None. ``BadGate`` when its declaration is unusable."""
    declared = task.inputs.get(DECISION_INPUT)
    if declared is not None:
        if not isinstance(declared, Mapping):
            raise BadGate(f"decision gate of step '{task.step_id}': input 'decision' must be a mapping")
        return _spec(declared, params, f"May '{task.operator}' of goal {goal_id} go ahead?")
    wanted = params.get(DEPLOY_PARAM)
    if not wanted or not task.operator.startswith(DEPLOY_PREFIX):
        return None
    fields = dict(wanted) if isinstance(wanted, Mapping) else {}
    if "electorate" not in fields:
        fields.setdefault("capability", "review")
    return _spec(fields, params, f"Is it safe to run '{task.operator}' for goal {goal_id}?")


def gated(plan: Plan, goal_id: str, params: Mapping[str, Any]) -> Plan:
    """The plan with every gated step held like an approval gate (``requires_approval``); an unusable gate
    declaration also holds its step (see :func:`problems`)."""
    tasks = []
    for task in plan.tasks:
        try:
            gate = gate_for(task, goal_id, params)
        except BadGate:
            gate = GateSpec(question="")
        tasks.append(replace(task, requires_approval=True) if gate is not None else task)
    return replace(plan, tasks=tuple(tasks))


def problems(plan: Plan, goal_id: str, params: Mapping[str, Any]) -> list[str]:
    """Why some gate of the plan cannot be asked at all (the goal fails at once rather than at that step)."""
    found = []
    for task in plan.tasks:
        try:
            gate_for(task, goal_id, params)
        except BadGate as bad:
            found.append(str(bad))
    return found


def decision_id_for(task_id: str) -> str:
    """The decision a gated task waits for (characters a decision id may not hold become ``_``)."""
    return re.sub(r"[^A-Za-z0-9_.:-]", "_", f"gate:{task_id}")[:200]


def electorate(spec: GateSpec, fleet: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """The named electorate, or every agent of the fleet with the spec's capability (sorted)."""
    if spec.electorate:
        return spec.electorate
    if spec.capability is None:
        return ()
    return tuple(sorted(agent for agent, caps in fleet.items() if caps and spec.capability in caps))


def request(spec: GateSpec, goal_id: str, task_id: str, fleet: Mapping[str, Sequence[str]]) -> RequestDecision:
    """The RequestDecision of a gate; ``BadGate`` when no electorate can be found or a field is invalid."""
    voters = electorate(spec, fleet)
    if not voters:
        who = f"no agent with capability '{spec.capability}'" if spec.capability else "no electorate named"
        raise BadGate(f"decision gate of {task_id}: {who} in the fleet")
    context = {
        REPLY_TO: {"goal_id": goal_id, "task_id": task_id},
        "accept": list(spec.accept),
        "on_reject": spec.on_reject,
    }
    fields: dict[str, Any] = {"protocol": spec.protocol} if spec.protocol else {}
    try:
        return RequestDecision(
            decision_id=decision_id_for(task_id),
            question=spec.question,
            tier=spec.tier,  # type: ignore[arg-type]
            electorate=list(voters),
            options=list(spec.options) if spec.options else None,
            ballot_via=spec.ballot_via,  # type: ignore[arg-type]
            requested_by=f"goal:{goal_id}",
            context=context,
            **fields,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise BadGate(f"decision gate of {task_id}: {problems}") from exc
