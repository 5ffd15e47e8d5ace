"""Dependency graphs of steps: cycles, a deterministic topological order, ancestors.

A graph is given as the step ids in their declared order plus, for each step, the ids it depends on.
Dependencies on ids that are not steps are ignored here; callers report them as dangling first.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence


def find_cycle(steps: Sequence[str], depends_on: Mapping[str, Sequence[str]]) -> tuple[str, ...] | None:
    """One dependency cycle as a closed path (`a, b, a` means a depends on b depends on a), or None."""
    known = set(steps)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    for root in steps:
        if root in state:
            continue
        path: list[str] = [root]
        iterators = [iter(depends_on.get(root, ()))]
        state[root] = 1
        while iterators:
            child = next(iterators[-1], None)
            if child is None:
                state[path.pop()] = 2
                iterators.pop()
            elif child not in known or state.get(child) == 2:
                continue
            elif state.get(child) == 1:
                return (*path[path.index(child) :], child)
            else:
                state[child] = 1
                path.append(child)
                iterators.append(iter(depends_on.get(child, ())))
    return None


def topological_order(steps: Sequence[str], depends_on: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """Dependencies before dependents; among steps that are ready together, declared order wins.

    Deterministic so that replays and re-plans produce the same sequence. Raises ValueError on a cycle.
    """
    position = {step: index for index, step in enumerate(steps)}
    waiting = {step: {dep for dep in depends_on.get(step, ()) if dep in position} for step in steps}
    dependents: dict[str, list[str]] = {step: [] for step in steps}
    for step, deps in waiting.items():
        for dep in deps:
            dependents[dep].append(step)
    ready = [position[step] for step, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        step = steps[heapq.heappop(ready)]
        order.append(step)
        for dependent in dependents[step]:
            waiting[dependent].discard(step)
            if not waiting[dependent]:
                heapq.heappush(ready, position[dependent])
    if len(order) != len(steps):
        raise ValueError(f"dependency cycle: {' -> '.join(find_cycle(steps, depends_on) or ())}")
    return tuple(order)


def ancestors(steps: Sequence[str], depends_on: Mapping[str, Sequence[str]]) -> dict[str, frozenset[str]]:
    """For every step, all the steps it transitively depends on. Raises ValueError on a cycle."""
    result: dict[str, frozenset[str]] = {}
    for step in topological_order(steps, depends_on):
        found: set[str] = set()
        for dep in depends_on.get(step, ()):
            if dep in result:
                found.add(dep)
                found |= result[dep]
        result[step] = frozenset(found)
    return result
