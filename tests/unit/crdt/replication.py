"""A small replication simulator: replicas apply operations, gossip states, and receivers converge."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from tests.unit.crdt.laws import Mergeable, canonical, merge_all

REPLICAS = ("r0", "r1", "r2")

Operation = Callable[[Mergeable, str, int], Mergeable]
"""Applies one update at a replica: (state, replica id, step number) -> new state."""


def run_history(empty: Mergeable, steps: list[tuple[str, Any]], operations: dict[str, Operation]) -> list[Mergeable]:
    """Run ``steps`` (("op", (name, replica)) or ("sync", (source, target))) and return every state produced."""
    states = dict.fromkeys(REPLICAS, empty)
    emitted: list[Mergeable] = []
    for number, (kind, args) in enumerate(steps):
        if kind == "op":
            name, replica = args
            states[replica] = operations[name](states[replica], replica, number)
        else:
            source, target = args
            states[target] = states[target].merge(states[source])
        emitted.extend(states.values())
    return emitted


def history(operation_names: list[str]) -> st.SearchStrategy[list[tuple[str, Any]]]:
    """Random histories mixing local updates and partial gossip between replicas."""
    replica = st.sampled_from(REPLICAS)
    op = st.tuples(st.just("op"), st.tuples(st.sampled_from(operation_names), replica))
    sync = st.tuples(st.just("sync"), st.tuples(replica, replica))
    return st.lists(st.one_of(op, op, sync), min_size=1, max_size=25)


def assert_converges(empty: Mergeable, emitted: list[Mergeable], data: st.DataObject) -> Mergeable:
    """Receivers that get every emitted state, in any order and with duplicates, end up identical."""
    expected = merge_all(empty, emitted)
    for _ in range(3):
        order = data.draw(st.permutations(emitted))
        duplicates = data.draw(st.lists(st.sampled_from(emitted), max_size=5)) if emitted else []
        received = merge_all(empty, [*order, *duplicates])
        assert canonical(received) == canonical(expected)
    return expected
