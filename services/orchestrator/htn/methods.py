"""Methods: ways to decompose an abstract task into ordered or partially ordered subtasks."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from services.orchestrator.htn.conditions import Condition
from services.orchestrator.htn.dag import find_cycle
from services.orchestrator.htn.problems import DomainProblem

Ordering = Literal["sequential", "partial"]

STEP_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
"""Step ids may not contain '.', which joins the ids of nested decompositions (`build.design`)."""


@dataclass(frozen=True)
class MethodStep:
    """One subtask of a method: an operator or another abstract task, with its place in the order."""

    id: str
    task: str
    """An operator name (primitive) or an abstract task name (decomposed recursively)."""
    depends_on: tuple[str, ...] = ()
    """Ids of sibling steps that must succeed first; only with `partial` ordering."""
    requires_approval: bool = False
    """A human must approve before the step is released to an agent."""
    saga: str | None = None
    """Name of the saga this step belongs to: the steps of one saga run as one saga of the saga coordinator."""
    inputs: Mapping[str, Any] = field(default_factory=dict)
    """Static task inputs; a string value `${name}` is replaced by the goal parameter `name`."""
    compensation: str | None = None
    """The operator that undoes this step when a later step of its saga fails for good (saga steps only)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form, the same shape as a step in a domain file."""
        data: dict[str, Any] = {"id": self.id, "task": self.task}
        if self.depends_on:
            data["depends_on"] = list(self.depends_on)
        if self.requires_approval:
            data["requires_approval"] = True
        if self.saga is not None:
            data["saga"] = self.saga
        if self.inputs:
            data["inputs"] = dict(self.inputs)
        if self.compensation is not None:
            data["compensation"] = self.compensation
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MethodStep:
        """Inverse of `to_dict` (no validation)."""
        return cls(
            id=data["id"],
            task=data["task"],
            depends_on=tuple(data.get("depends_on", ())),
            requires_approval=bool(data.get("requires_approval", False)),
            saga=data.get("saga"),
            inputs=dict(data.get("inputs", {})),
            compensation=data.get("compensation"),
        )


@dataclass(frozen=True)
class Method:
    """A way to decompose `task`, applicable when `condition` holds for the goal's facts and parameters.

    With `sequential` ordering each step depends on the one before it; with `partial` ordering the steps
    name their dependencies explicitly and independent steps may run in parallel. A `candidate` method
    was learned from a successful decomposition and is only used once promoted (see `Domain.promote`).
    """

    name: str
    task: str
    steps: tuple[MethodStep, ...]
    condition: Condition = field(default_factory=Condition)
    ordering: Ordering = "sequential"
    candidate: bool = False

    def dependencies(self) -> dict[str, tuple[str, ...]]:
        """The effective dependency edges of the steps, whatever the ordering style."""
        if self.ordering == "sequential":
            ids = [step.id for step in self.steps]
            return {step_id: tuple(ids[index - 1 : index]) for index, step_id in enumerate(ids)}
        return {step.id: step.depends_on for step in self.steps}

    def problems(self) -> tuple[DomainProblem, ...]:
        """Structural mistakes that need no other method or operator to detect."""
        found: list[DomainProblem] = []
        if not self.steps:
            found.append(DomainProblem("a method needs at least one step", method=self.name, field="steps"))
        seen: set[str] = set()
        for step in self.steps:
            if not STEP_ID_PATTERN.match(step.id):
                found.append(self._problem(step, "id", "use only letters, digits, '_' and '-'"))
            if step.id in seen:
                found.append(self._problem(step, "id", f"duplicate step id '{step.id}'"))
            seen.add(step.id)
        for step in self.steps:
            if step.depends_on and self.ordering == "sequential":
                message = "depends_on is only allowed when the method's ordering is 'partial'"
                found.append(self._problem(step, "depends_on", message))
                continue
            if step.compensation is not None and step.saga is None:
                found.append(self._problem(step, "compensation", "a compensation needs the step to be in a saga"))
            if step.saga is not None and step.requires_approval:
                message = "a saga step cannot require approval (gate the step before the saga instead)"
                found.append(self._problem(step, "requires_approval", message))
            for dep in step.depends_on:
                if dep == step.id:
                    found.append(self._problem(step, "depends_on", "a step cannot depend on itself"))
                elif dep not in seen:
                    found.append(self._problem(step, "depends_on", f"unknown step '{dep}'"))
        if not found:
            cycle = find_cycle([step.id for step in self.steps], self.dependencies())
            if cycle:
                message = f"dependency cycle {' -> '.join(cycle)}"
                found.append(DomainProblem(message, method=self.name, field="depends_on"))
        return tuple(found)

    def _problem(self, step: MethodStep, field_name: str, message: str) -> DomainProblem:
        return DomainProblem(message, method=self.name, step=step.id, field=field_name)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form, the same shape as an entry of `methods:` in a domain file."""
        data: dict[str, Any] = {"name": self.name, "task": self.task}
        when = self.condition.to_dict()
        if when:
            data["when"] = when
        data["ordering"] = self.ordering
        if self.candidate:
            data["candidate"] = True
        data["steps"] = [step.to_dict() for step in self.steps]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Method:
        """Inverse of `to_dict` (no validation: use the domain file loader for untrusted input)."""
        return cls(
            name=data["name"],
            task=data["task"],
            steps=tuple(MethodStep.from_dict(step) for step in data.get("steps", ())),
            condition=Condition.from_dict(data.get("when", {})),
            ordering=data.get("ordering", "sequential"),
            candidate=bool(data.get("candidate", False)),
        )
