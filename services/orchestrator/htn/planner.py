"""The HTN planner: decompose a goal with the domain's methods into a DAG of primitive tasks.

Methods for a task are tried in domain order; a method is used when its condition holds for the goal's
initial facts and parameters and its full decomposition (recursively, backtracking over the methods of
nested abstract tasks) has every precondition satisfied. Step ids are the method step ids, joined with
'.' for nested decompositions (`build.design`), so the same inputs always give the same plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from services.orchestrator.htn.dag import topological_order
from services.orchestrator.htn.domain import Domain
from services.orchestrator.htn.inputs import resolve_inputs
from services.orchestrator.htn.methods import Method, MethodStep
from services.orchestrator.htn.plan import NoMethodApplies, Plan, PlannedTask
from services.orchestrator.htn.preconditions import precondition_problems

DEFAULT_MAX_PLAN_STEPS = 200
"""A decomposition larger than this is refused rather than released onto the fleet."""

MAX_ALTERNATIVES = 1000
"""How many complete decompositions of one top-level method are checked before giving up on it."""


def plan(
    goal_type: str,
    params: Mapping[str, Any],
    facts: Iterable[str],
    domain: Domain,
    excluded_methods: Iterable[str] = (),
    *,
    include_candidates: bool = False,
    max_steps: int = DEFAULT_MAX_PLAN_STEPS,
) -> Plan | NoMethodApplies:
    """Decompose `goal_type` into a Plan, or say why no method applies.

    `excluded_methods` are skipped at every level (see `replan`); candidate (learned, unreviewed)
    methods are only tried when `include_candidates` is set.
    """
    excluded = tuple(dict.fromkeys(excluded_methods))
    search = _Search(dict(params), frozenset(facts), domain, frozenset(excluded), include_candidates, max_steps)
    methods = domain.methods_for(goal_type, include_candidates=include_candidates)
    if not methods:
        return NoMethodApplies(goal_type, (f"no method decomposes '{goal_type}'",))
    reasons: list[str] = []
    for method in methods:
        refusal = search.refusal(method)
        if refusal:
            reasons.append(f"method '{method.name}': {refusal}")
            continue
        found = search.first_sound_plan(method, goal_type)
        if isinstance(found, Plan):
            return replace(found, excluded_methods=excluded)
        reasons.extend(f"method '{method.name}': {reason}" for reason in found)
    return NoMethodApplies(goal_type, tuple(reasons))


def replan(
    goal_type: str,
    params: Mapping[str, Any],
    facts: Iterable[str],
    domain: Domain,
    failed_method: str,
    excluded_methods: Iterable[str] = (),
    *,
    include_candidates: bool = False,
    max_steps: int = DEFAULT_MAX_PLAN_STEPS,
) -> Plan | NoMethodApplies:
    """Plan again without `failed_method` (nor any method excluded before: pass `plan.excluded_methods`).

    `facts` should be the goal's facts now, so work already done can satisfy preconditions.
    """
    return plan(
        goal_type,
        params,
        facts,
        domain,
        (*excluded_methods, failed_method),
        include_candidates=include_candidates,
        max_steps=max_steps,
    )


_Expansion = tuple[PlannedTask, ...]
"""A decomposition of one task: its primitive tasks, with dependencies only among themselves."""


@dataclass
class _Search:
    params: dict[str, Any]
    facts: frozenset[str]
    domain: Domain
    excluded: frozenset[str]
    include_candidates: bool
    max_steps: int
    notes: list[str] = field(default_factory=list)

    def refusal(self, method: Method) -> str:
        """Why `method` cannot be used at all (empty if it can be tried)."""
        if method.name in self.excluded:
            return "excluded"
        return "; ".join(method.condition.failures(self.facts, self.params))

    def first_sound_plan(self, method: Method, goal_type: str) -> Plan | list[str]:
        """The first decomposition through `method` whose preconditions hold, or the reasons none did."""
        self.notes = []
        problems: tuple[str, ...] = ()
        for tried, expansion in enumerate(self._expand_method(method, "", (goal_type,))):
            if tried >= MAX_ALTERNATIVES:
                self.notes.append(f"gave up after {MAX_ALTERNATIVES} alternative decompositions")
                break
            problems = self._problems(expansion)
            if not problems:
                return Plan(goal_type, method.name, self._ordered(expansion))
        return list(dict.fromkeys((*self.notes, *problems)))

    def _problems(self, expansion: _Expansion) -> tuple[str, ...]:
        if len(expansion) > self.max_steps:
            return (f"decomposes into {len(expansion)} steps; the limit is {self.max_steps}",)
        ids = [task.step_id for task in expansion]
        depends_on = {task.step_id: task.depends_on for task in expansion}
        operators = {task.step_id: self.domain.operators_by_name[task.operator] for task in expansion}
        return precondition_problems(ids, depends_on, operators, self.facts)

    def _ordered(self, expansion: _Expansion) -> tuple[PlannedTask, ...]:
        by_id = {task.step_id: task for task in expansion}
        order = topological_order(list(by_id), {task.step_id: task.depends_on for task in expansion})
        return tuple(by_id[step_id] for step_id in order)

    def _expand_abstract(self, task: str, prefix: str, stack: tuple[str, ...]) -> Iterator[_Expansion]:
        if task in stack:
            self.notes.append(f"task '{task}' would decompose into itself")
            return
        for method in self.domain.methods_for(task, include_candidates=self.include_candidates):
            refusal = self.refusal(method)
            if refusal:
                self.notes.append(f"nested method '{method.name}' for '{task}': {refusal}")
                continue
            yield from self._expand_method(method, prefix, (*stack, task))

    def _expand_method(self, method: Method, prefix: str, stack: tuple[str, ...]) -> Iterator[_Expansion]:
        dependencies = method.dependencies()

        def combine(index: int, done: dict[str, _Expansion]) -> Iterator[_Expansion]:
            if index == len(method.steps):
                yield tuple(task for expansion in done.values() for task in expansion)
                return
            step = method.steps[index]
            predecessors = tuple(sink for dep in dependencies[step.id] for sink in _sinks(done[dep]))
            for expansion in self._expand_step(step, method, prefix, stack):
                yield from combine(index + 1, {**done, step.id: _after(predecessors, expansion)})

        yield from combine(0, {})

    def _expand_step(
        self, step: MethodStep, method: Method, prefix: str, stack: tuple[str, ...]
    ) -> Iterator[_Expansion]:
        step_id = f"{prefix}{step.id}"
        inputs, missing = resolve_inputs(step.inputs, self.params)
        if missing:
            names = ", ".join(f"'{name}'" for name in missing)
            self.notes.append(f"step '{step_id}': inputs reference missing parameters {names}")
            return
        operator = self.domain.operator(step.task)
        if operator is not None:
            yield (
                PlannedTask(
                    step_id=step_id,
                    operator=operator.name,
                    capability=operator.capability,
                    requires_approval=step.requires_approval,
                    tier=operator.tier,
                    inputs=inputs,
                    saga=step.saga,
                    compensation=step.compensation,
                    method=method.name,
                ),
            )
            return
        for expansion in self._expand_abstract(step.task, f"{step_id}.", stack):
            sources = {task.step_id for task in _sources(expansion)}
            yield tuple(
                replace(
                    task,
                    requires_approval=task.requires_approval or (step.requires_approval and task.step_id in sources),
                    saga=task.saga if task.saga is not None else step.saga,
                    inputs={**inputs, **task.inputs},
                )
                for task in expansion
            )


def _after(predecessors: tuple[str, ...], expansion: _Expansion) -> _Expansion:
    """The expansion with its sources made to wait for `predecessors`."""
    if not predecessors:
        return expansion
    sources = {task.step_id for task in _sources(expansion)}
    return tuple(
        replace(task, depends_on=(*predecessors, *task.depends_on)) if task.step_id in sources else task
        for task in expansion
    )


def _sources(expansion: _Expansion) -> tuple[PlannedTask, ...]:
    """Tasks that depend on nothing else in the expansion: they inherit the step's incoming edges."""
    inside = {task.step_id for task in expansion}
    return tuple(task for task in expansion if not inside.intersection(task.depends_on))


def _sinks(expansion: _Expansion) -> tuple[str, ...]:
    """Step ids nothing else in the expansion depends on: a dependent step waits for all of them."""
    needed = {dep for task in expansion for dep in task.depends_on}
    return tuple(task.step_id for task in expansion if task.step_id not in needed)
