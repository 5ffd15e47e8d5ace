"""Validation of plans written by a planner agent, used when no method applies to a goal.

The expected shape (JSON from the agent's output):

```json
{"steps": [
  {"id": "design", "operator": "design"},
  {"id": "code", "operator": "code", "depends_on": ["design"], "inputs": {"files": ["api.py"]}},
  {"id": "unit", "operator": "tests", "depends_on": ["code"]},
  {"id": "review", "operator": "review", "depends_on": ["unit"], "description": "check the API shape"},
  {"id": "ship", "operator": "deploy_staging", "depends_on": ["review"], "requires_approval": true}
]}
```
Steps name operators only (abstract tasks are refused: the agent is the fallback for decomposing them).
Every rule is checked and every violation reported, so the agent can be asked to refine its plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.orchestrator.htn.dag import find_cycle, topological_order
from services.orchestrator.htn.domain import Domain
from services.orchestrator.htn.plan import AGENT_PLAN_METHOD, Plan, PlannedTask, PlanRejection
from services.orchestrator.htn.preconditions import precondition_problems

DEFAULT_MAX_AGENT_PLAN_STEPS = 50


class AgentPlanStep(BaseModel):
    """One step of an agent-written plan."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]
    operator: Annotated[str, Field(min_length=1, max_length=100)]
    depends_on: list[str] = []
    requires_approval: bool = False
    saga: Annotated[str, Field(min_length=1)] | None = None
    inputs: dict[str, Any] = {}
    description: str = ""


class AgentPlan(BaseModel):
    """An agent-written plan."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: list[AgentPlanStep]
    rationale: str = ""


def validate_agent_plan(
    plan_dict: Any,
    domain: Domain,
    fleet_capabilities: Iterable[str],
    *,
    goal_type: str = "",
    initial_facts: Iterable[str] = (),
    max_steps: int = DEFAULT_MAX_AGENT_PLAN_STEPS,
) -> Plan | PlanRejection:
    """A validated Plan (source "agent"), or every reason to reject the proposal.

    Checks: shape, non-empty, at most `max_steps` steps, unique ids, known operators, capabilities
    present in the fleet (approval-tier operators are done by humans and need none), no dangling or
    self dependencies, no cycle, and preconditions satisfiable from `initial_facts` and predecessors.
    """
    try:
        proposal = AgentPlan.model_validate(plan_dict)
    except ValidationError as error:
        return PlanRejection(tuple(_shape_reason(item) for item in error.errors()))
    steps = proposal.steps
    if not steps:
        return PlanRejection(("the plan has no steps",))
    reasons: list[str] = []
    if len(steps) > max_steps:
        reasons.append(f"the plan has {len(steps)} steps; the limit is {max_steps}")
    reasons.extend(_identity_reasons(steps, domain, frozenset(fleet_capabilities)))
    reasons.extend(_dependency_reasons(steps))
    if reasons:
        return PlanRejection(tuple(reasons))
    ids = [step.id for step in steps]
    depends_on = {step.id: tuple(step.depends_on) for step in steps}
    operators = {step.id: domain.operators_by_name[step.operator] for step in steps}
    unsatisfied = precondition_problems(ids, depends_on, operators, frozenset(initial_facts))
    if unsatisfied:
        return PlanRejection(unsatisfied)
    by_id = {step.id: step for step in steps}
    tasks = tuple(
        PlannedTask(
            step_id=step_id,
            operator=operators[step_id].name,
            capability=operators[step_id].capability,
            depends_on=depends_on[step_id],
            requires_approval=by_id[step_id].requires_approval,
            tier=operators[step_id].tier,
            inputs=dict(by_id[step_id].inputs),
            saga=by_id[step_id].saga,
        )
        for step_id in topological_order(ids, depends_on)
    )
    return Plan(goal_type, AGENT_PLAN_METHOD, tasks, source="agent")


def _shape_reason(error: Mapping[str, Any]) -> str:
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]).lstrip(".")
    return f"{where or 'plan'}: {error['msg']}"


def _identity_reasons(steps: list[AgentPlanStep], domain: Domain, fleet: frozenset[str]) -> list[str]:
    reasons: list[str] = []
    seen: set[str] = set()
    for step in steps:
        if step.id in seen:
            reasons.append(f"step '{step.id}': duplicate step id")
        seen.add(step.id)
        operator = domain.operator(step.operator)
        if operator is None:
            hint = " (it is an abstract task: name its operators instead)" if domain.is_abstract(step.operator) else ""
            reasons.append(f"step '{step.id}': unknown operator '{step.operator}'{hint}")
        elif operator.tier != "approval" and operator.capability not in fleet:
            reasons.append(
                f"step '{step.id}': operator '{operator.name}' needs capability '{operator.capability}', "
                "which no agent in the fleet has"
            )
    return reasons


def _dependency_reasons(steps: list[AgentPlanStep]) -> list[str]:
    ids = {step.id for step in steps}
    reasons: list[str] = []
    for step in steps:
        for dep in step.depends_on:
            if dep == step.id:
                reasons.append(f"step '{step.id}': depends on itself")
            elif dep not in ids:
                reasons.append(f"step '{step.id}': depends on unknown step '{dep}'")
    if not reasons:
        cycle = find_cycle([step.id for step in steps], {step.id: step.depends_on for step in steps})
        if cycle:
            reasons.append(f"the steps form a cycle: {' -> '.join(cycle)}")
    return reasons
