from itertools import pairwise

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.orchestrator.htn.dag import ancestors, find_cycle, topological_order


def test_no_cycle_in_a_chain():
    assert find_cycle(["a", "b", "c"], {"b": ["a"], "c": ["b"]}) is None


def test_finds_a_two_step_cycle_as_closed_path():
    cycle = find_cycle(["a", "b"], {"a": ["b"], "b": ["a"]})
    assert cycle is not None
    assert cycle[0] == cycle[-1]
    assert set(cycle) == {"a", "b"}


def test_finds_a_self_loop():
    assert find_cycle(["a"], {"a": ["a"]}) == ("a", "a")


def test_dangling_dependencies_are_ignored():
    assert find_cycle(["a"], {"a": ["ghost"]}) is None
    assert topological_order(["a"], {"a": ["ghost"]}) == ("a",)


def test_topological_order_puts_dependencies_first():
    assert topological_order(["c", "b", "a"], {"c": ["b"], "b": ["a"]}) == ("a", "b", "c")


def test_topological_order_keeps_declared_order_among_ready_steps():
    assert topological_order(["x", "b", "a"], {}) == ("x", "b", "a")
    assert topological_order(["root", "z", "y"], {"z": ["root"], "y": ["root"]}) == ("root", "z", "y")


def test_topological_order_rejects_cycles():
    with pytest.raises(ValueError, match="cycle"):
        topological_order(["a", "b"], {"a": ["b"], "b": ["a"]})


def test_ancestors_are_transitive():
    result = ancestors(["a", "b", "c", "d"], {"b": ["a"], "c": ["b"], "d": []})
    assert result == {"a": frozenset(), "b": {"a"}, "c": {"a", "b"}, "d": frozenset()}


@st.composite
def dags(draw):
    size = draw(st.integers(min_value=1, max_value=12))
    steps = [f"s{index}" for index in range(size)]
    # Edges only to earlier indices: acyclic by construction; then shuffle the declared order.
    depends_on = {
        step: draw(st.lists(st.sampled_from(steps[:index]), unique=True)) if index else []
        for index, step in enumerate(steps)
    }
    return draw(st.permutations(steps)), depends_on


@settings(max_examples=60, deadline=None)
@given(dags())
def test_topological_order_of_any_dag_respects_every_edge(dag):
    steps, depends_on = dag
    order = topological_order(steps, depends_on)
    position = {step: index for index, step in enumerate(order)}
    assert sorted(order) == sorted(steps)
    assert all(position[dep] < position[step] for step in steps for dep in depends_on[step])
    assert find_cycle(steps, depends_on) is None


@settings(max_examples=60, deadline=None)
@given(dags(), st.data())
def test_adding_a_back_edge_creates_a_detected_cycle(dag, data):
    steps, depends_on = dag
    edges = [(step, dep) for step in steps for dep in depends_on[step]]
    assume(edges)
    step, dep = data.draw(st.sampled_from(edges))
    cyclic = {**depends_on, dep: [*depends_on[dep], step]}
    cycle = find_cycle(steps, cyclic)
    assert cycle is not None and cycle[0] == cycle[-1]
    assert all(b in cyclic[a] for a, b in pairwise(cycle))
