"""Learning: offer a decomposition that worked as a new method for the same goal type."""

from __future__ import annotations

import hashlib
import json

from services.orchestrator.htn.methods import Method, MethodStep
from services.orchestrator.htn.plan import Plan


def candidate_method_from_plan(goal_type: str, plan: Plan) -> Method:
    """A candidate Method reproducing the structure of a plan that succeeded.

    The method keeps operators, dependencies, approval gates and saga names, but not the task inputs:
    those were written for one goal and would mislead the next. Its name is derived from that structure,
    so learning the same decomposition twice yields the same method (idempotent on redelivery). It applies
    unconditionally and is marked `candidate`: the planner ignores it until a human promotes it.
    """
    steps = tuple(
        MethodStep(
            id=task.step_id.replace(".", "__"),
            task=task.operator,
            depends_on=tuple(dep.replace(".", "__") for dep in task.depends_on),
            requires_approval=task.requires_approval,
            saga=task.saga,
        )
        for task in plan.tasks
    )
    structure = json.dumps([step.to_dict() for step in steps], sort_keys=True)
    digest = hashlib.sha256(f"{goal_type}\n{structure}".encode()).hexdigest()[:10]
    return Method(name=f"{goal_type}_learned_{digest}", task=goal_type, steps=steps, ordering="partial", candidate=True)
