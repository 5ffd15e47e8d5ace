"""Are the preconditions of every step of a DAG satisfied, whatever order parallel steps run in?

A step may rely on the initial facts and on the effects of the steps it (transitively) depends on, applied
in topological order. It may not rely on steps it is not ordered after, and no unordered step may remove a
fact it needs: either could happen before or after it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.orchestrator.htn.dag import ancestors, topological_order
from services.orchestrator.htn.operators import Operator


def precondition_problems(
    steps: Sequence[str],
    depends_on: Mapping[str, Sequence[str]],
    operators: Mapping[str, Operator],
    initial_facts: frozenset[str],
) -> tuple[str, ...]:
    """One sentence per unsatisfied precondition or removal threat; empty when the DAG is sound.

    `steps` must be unique, acyclic and have no dangling dependencies (check those first).
    """
    order = topological_order(steps, depends_on)
    before = ancestors(steps, depends_on)
    problems: list[str] = []
    for step in order:
        operator = operators[step]
        facts = initial_facts
        for earlier in order:
            if earlier in before[step]:
                facts = operators[earlier].apply(facts)
        for fact in sorted(operator.preconditions - facts):
            problems.append(_unsatisfied(step, fact, order, before, operators))
        for other in order:
            unordered = other != step and other not in before[step] and step not in before[other]
            if not unordered:
                continue
            for fact in sorted(operator.preconditions & operators[other].removes):
                problems.append(
                    f"step '{other}' removes fact '{fact}' needed by step '{step}', and the two are not ordered"
                )
    return tuple(problems)


def _unsatisfied(
    step: str,
    fact: str,
    order: Sequence[str],
    before: Mapping[str, frozenset[str]],
    operators: Mapping[str, Operator],
) -> str:
    head = f"step '{step}': precondition '{fact}' of operator '{operators[step].name}' does not hold"
    removers = [other for other in order if other in before[step] and fact in operators[other].removes]
    if removers:
        return f"{head}: removed by earlier step '{removers[-1]}'"
    producers = [other for other in order if other != step and fact in operators[other].effects]
    if producers:
        return f"{head}: produced by step '{producers[0]}', which '{step}' does not depend on"
    return f"{head}: it is not an initial fact and no step produces it"
