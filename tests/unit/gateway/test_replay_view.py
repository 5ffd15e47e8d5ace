"""Depth of each event in a goal's causal tree, for the replay view."""

from __future__ import annotations

import uuid

from services.gateway.replay_view import causal_depths
from shared.events.catalogue.goals import GoalCompleted, GoalSubmitted, SubmitGoal
from shared.events.codec import new_event


def test_each_event_sits_one_below_its_cause_and_orphans_are_roots() -> None:
    goal = "g-1"
    submit = new_event(SubmitGoal(goal_id=goal, goal_type="fix_bug"), producer="t", stream_id=goal, correlation_id=goal)
    submitted = new_event(
        GoalSubmitted(goal_id=goal, goal_type="fix_bug"),
        producer="t",
        stream_id=goal,
        correlation_id=goal,
        causation_id=submit.event_id,
    )
    done = new_event(
        GoalCompleted(goal_id=goal, tasks_succeeded=0),
        producer="t",
        stream_id=goal,
        correlation_id=goal,
        causation_id=submitted.event_id,
    )
    orphan = new_event(
        GoalCompleted(goal_id=goal, tasks_succeeded=0),
        producer="t",
        stream_id=goal,
        correlation_id=goal,
        causation_id=uuid.uuid4(),
    )
    depths = causal_depths([submit, submitted, done, orphan])
    assert depths == {submit.event_id: 0, submitted.event_id: 1, done.event_id: 2, orphan.event_id: 0}
