"""Which task outcomes are copied to a task creator's reply topic, and which records the projector skips."""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import ValidationError

from services.assigner.task_book import TrackedTask
from services.projector.store import is_logged_here
from shared.bus.replies import REPLY_TYPES, is_reply_copy, reply_topic
from shared.bus.topics import DECISIONS_COMMANDS, GOALS_COMMANDS, SAGAS_COMMANDS, TASKS_EVENTS
from shared.events.catalogue import CATALOGUE
from shared.events.catalogue.tasks import REPLY_TOPICS, ReplyTopic, TaskCreated


def test_the_reply_topics_are_the_saga_and_decision_command_topics_in_type_and_value() -> None:
    assert set(get_args(ReplyTopic)) == REPLY_TOPICS == {SAGAS_COMMANDS, DECISIONS_COMMANDS}
    assert set(CATALOGUE) >= REPLY_TYPES


@pytest.mark.parametrize("reply_to", [SAGAS_COMMANDS, DECISIONS_COMMANDS])
def test_outcomes_of_a_task_naming_a_reply_topic_go_there_and_nothing_else_does(reply_to: str) -> None:
    assert reply_topic("TaskSucceeded", reply_to) == reply_to
    assert reply_topic("TaskAbandoned", reply_to) == reply_to
    for other in ("TaskCreated", "TaskAssigned", "TaskStarted", "TaskFailed", "TaskRetryScheduled", "TaskTimedOut"):
        assert reply_topic(other, reply_to) is None, other


def test_a_task_naming_no_reply_topic_or_an_unknown_one_gets_no_copy() -> None:
    assert reply_topic("TaskSucceeded", None) is None
    assert reply_topic("TaskSucceeded", GOALS_COMMANDS) is None
    assert reply_topic("TaskSucceeded", TASKS_EVENTS) is None


def test_task_created_accepts_only_a_reply_topic_and_defaults_to_none() -> None:
    base = {"task_id": "g/a", "goal_id": "g", "operator": "a", "capability": "code"}
    assert TaskCreated.model_validate(base).reply_to is None
    assert TaskCreated.model_validate(base | {"reply_to": SAGAS_COMMANDS}).reply_to == SAGAS_COMMANDS
    with pytest.raises(ValidationError, match="reply_to"):
        TaskCreated.model_validate(base | {"reply_to": GOALS_COMMANDS})


def test_the_projector_logs_outcomes_from_the_task_topic_and_skips_their_copies() -> None:
    for topic in (SAGAS_COMMANDS, DECISIONS_COMMANDS):
        assert is_reply_copy(topic, "TaskSucceeded") and not is_logged_here(topic, "TaskSucceeded")
        assert is_reply_copy(topic, "TaskAbandoned") and not is_logged_here(topic, "TaskAbandoned")
        assert is_logged_here(topic, "StartSaga" if topic == SAGAS_COMMANDS else "RequestDecision")
    assert is_logged_here(TASKS_EVENTS, "TaskSucceeded") and is_logged_here(TASKS_EVENTS, "TaskAbandoned")


def test_the_assigner_keeps_a_task_s_reply_topic_in_its_stored_state() -> None:
    task = TrackedTask("s/a", "s", "a", "code", 1.0, reply_to=SAGAS_COMMANDS)
    assert TrackedTask.from_dict(task.to_dict()) == task
    stored_before_replies = {k: v for k, v in task.to_dict().items() if k != "reply_to"}
    assert TrackedTask.from_dict(stored_before_replies).reply_to is None
