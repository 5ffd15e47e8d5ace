"""A goal's causal tree and timeline, as `architect streams replay` shows them."""

from __future__ import annotations

from shared.events.catalogue.goals import GoalSubmitted, SubmitGoal
from shared.events.catalogue.tasks import TaskCreated
from shared.events.causality import causal_forest, render_forest, timeline
from shared.events.codec import caused_by, new_event


def chain() -> list:
    root = new_event(SubmitGoal(goal_id="g", goal_type="fix_bug"), producer="cli", stream_id="g", correlation_id="g")
    accepted = caused_by(root, GoalSubmitted(goal_id="g", goal_type="fix_bug"), producer="orch", kind="accepted")
    first = caused_by(
        accepted, TaskCreated(task_id="t1", goal_id="g", operator="a", capability="c"), producer="orch", kind="t1"
    )
    second = caused_by(
        accepted, TaskCreated(task_id="t2", goal_id="g", operator="b", capability="c"), producer="orch", kind="t2"
    )
    return [root, accepted, first, second]


def test_children_hang_under_the_event_that_caused_them() -> None:
    root, accepted, first, second = chain()
    forest = causal_forest([second, first, accepted, root])
    assert [n.envelope for n in forest] == [root]
    assert [n.envelope for n in forest[0].children] == [accepted]
    assert {n.envelope.event_id for n in forest[0].children[0].children} == {first.event_id, second.event_id}


def test_duplicates_appear_once_in_the_timeline() -> None:
    events = chain()
    assert len(timeline(events + events)) == len(events)


def test_rendering_indents_by_depth() -> None:
    lines = render_forest(causal_forest(chain()))
    assert lines[0].startswith("SubmitGoal")
    assert lines[1].startswith("  └─ GoalSubmitted")
    assert lines[2].startswith("    └─ TaskCreated")
