"""A planning domain: the operators and methods the planner may use, checked as a whole."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from services.orchestrator.htn.dag import find_cycle
from services.orchestrator.htn.methods import Method, MethodStep
from services.orchestrator.htn.operators import TIERS, Operator
from services.orchestrator.htn.problems import DomainProblem, InvalidDomain


@dataclass(frozen=True)
class Domain:
    """Operators plus methods; methods for the same task are tried in the order they appear here.

    Operators and abstract tasks are separate namespaces: a goal always names an abstract task, and a
    method step names an operator when one has that name, else an abstract task. That is how the built-in
    `refactor` method can have a `refactor` step.

    A Domain is always consistent: building one with problems (unknown operators, cycles, duplicate
    names...) raises `InvalidDomain` listing all of them.
    """

    operators: tuple[Operator, ...] = ()
    methods: tuple[Method, ...] = ()
    _operators_by_name: dict[str, Operator] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "operators", tuple(self.operators))
        object.__setattr__(self, "methods", tuple(self.methods))
        object.__setattr__(self, "_operators_by_name", {op.name: op for op in self.operators})
        problems = self.problems()
        if problems:
            raise InvalidDomain(problems)

    @property
    def abstract_tasks(self) -> frozenset[str]:
        """Names of the tasks that methods decompose (goal types are among them)."""
        return frozenset(method.task for method in self.methods)

    @property
    def operators_by_name(self) -> Mapping[str, Operator]:
        """The operators keyed by name (read-only view)."""
        return MappingProxyType(self._operators_by_name)

    def operator(self, name: str) -> Operator | None:
        """The operator called `name`, or None when `name` is abstract or unknown."""
        return self._operators_by_name.get(name)

    def is_abstract(self, name: str) -> bool:
        """True when some method decomposes a task called `name`."""
        return any(method.task == name for method in self.methods)

    def method(self, name: str) -> Method | None:
        """The method called `name`, or None."""
        return next((method for method in self.methods if method.name == name), None)

    def methods_for(self, task: str, *, include_candidates: bool = False) -> tuple[Method, ...]:
        """The methods decomposing `task`, in the order they are tried."""
        return tuple(
            method for method in self.methods if method.task == task and (include_candidates or not method.candidate)
        )

    def extended(self, operators: Iterable[Operator] = (), methods: Iterable[Method] = ()) -> Domain:
        """This domain plus user additions; added methods are tried before existing ones for the same task.

        Users add methods to specialise behaviour, so theirs take precedence over the built-in ones.
        Redefining an existing operator or method name is a problem (raises `InvalidDomain`).
        """
        return Domain((*self.operators, *operators), (*methods, *self.methods))

    def with_method(self, method: Method) -> Domain:
        """This domain with `method` appended, i.e. tried after every existing method for its task."""
        return Domain(self.operators, (*self.methods, method))

    def without_method(self, name: str) -> Domain:
        """This domain without the method called `name` (unchanged if there is none)."""
        return Domain(self.operators, tuple(method for method in self.methods if method.name != name))

    def promote(self, name: str) -> Domain:
        """Turn the candidate method `name` into a regular one so the planner uses it. KeyError if unknown."""
        if self.method(name) is None:
            raise KeyError(f"no method named '{name}'")
        return Domain(
            self.operators,
            tuple(replace(method, candidate=False) if method.name == name else method for method in self.methods),
        )

    def problems(self) -> tuple[DomainProblem, ...]:
        """Everything wrong with this domain (empty when consistent)."""
        found: list[DomainProblem] = []
        found.extend(_operator_problems(self.operators))
        abstract = self.abstract_tasks
        seen_methods: set[str] = set()
        for method in self.methods:
            if not method.name:
                found.append(DomainProblem("must not be empty", method=method.name, field="name"))
            if method.name in seen_methods:
                found.append(DomainProblem("duplicate method name", method=method.name, field="name"))
            seen_methods.add(method.name)
            if not method.task:
                found.append(DomainProblem("must not be empty", method=method.name, field="task"))
            found.extend(method.problems())
            for step in method.steps:
                if step.task not in self._operators_by_name and step.task not in abstract:
                    message = f"unknown operator or task '{step.task}'"
                    found.append(DomainProblem(message, method=method.name, step=step.id, field="task"))
                if step.compensation is not None:
                    found.extend(self._compensation_problems(method, step))
        found.extend(self._recursion_problems())
        return tuple(found)

    def _compensation_problems(self, method: Method, step: MethodStep) -> list[DomainProblem]:
        where = {"method": method.name, "step": step.id, "field": "compensation"}
        if step.compensation not in self._operators_by_name:
            return [DomainProblem(f"unknown operator '{step.compensation}'", **where)]
        if step.task not in self._operators_by_name:
            return [DomainProblem("only an operator step can have a compensation", **where)]
        return []

    def _recursion_problems(self) -> list[DomainProblem]:
        # Conditions only look at the goal's initial facts and parameters, which decomposition never
        # changes, so a task that can decompose into itself would recurse forever.
        tasks = sorted(self.abstract_tasks)
        subtasks = {
            task: sorted(
                {
                    step.task
                    for method in self.methods
                    if method.task == task
                    for step in method.steps
                    if step.task not in self._operators_by_name
                }
            )
            for task in tasks
        }
        cycle = find_cycle(tasks, subtasks)
        if cycle is None:
            return []
        culprit = next(
            method
            for method in self.methods
            if method.task == cycle[0] and any(step.task == cycle[1] for step in method.steps)
        )
        message = f"task decomposes into itself: {' -> '.join(cycle)}"
        return [DomainProblem(message, method=culprit.name, field="steps")]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form, the same shape as a domain file."""
        return {
            "operators": [operator.to_dict() for operator in self.operators],
            "methods": [method.to_dict() for method in self.methods],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Domain:
        """Inverse of `to_dict` (raises `InvalidDomain` on semantic problems)."""
        return cls(
            tuple(Operator.from_dict(item) for item in data.get("operators", ())),
            tuple(Method.from_dict(item) for item in data.get("methods", ())),
        )


def _operator_problems(operators: tuple[Operator, ...]) -> list[DomainProblem]:
    found: list[DomainProblem] = []
    seen: set[str] = set()
    for operator in operators:
        if not operator.name:
            found.append(DomainProblem("must not be empty", operator=operator.name, field="name"))
        if operator.name in seen:
            found.append(DomainProblem("duplicate operator name", operator=operator.name, field="name"))
        seen.add(operator.name)
        if not operator.capability:
            found.append(DomainProblem("must not be empty", operator=operator.name, field="capability"))
        if operator.tier not in TIERS:
            message = f"unknown tier '{operator.tier}' (expected one of {', '.join(TIERS)})"
            found.append(DomainProblem(message, operator=operator.name, field="tier"))
    return found
