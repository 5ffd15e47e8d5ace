"""Task outcomes copied to the service that created the task, so it need not read the whole task topic.

A task's creator may name one of its own command topics in ``TaskCreated.reply_to`` (the saga coordinator and
the consensus engine do). When the assigner publishes that task's outcome (an accepted TaskSucceeded, or
TaskAbandoned) on the task topic, it publishes the same event (same id) on the reply topic in the same
transaction. The task topic stays the log of record: the projector skips the copies, and timelines read from
Kafka (``architect streams replay``) drop them as duplicates by event id.
"""

from __future__ import annotations

from shared.events.catalogue.tasks import REPLY_TOPICS

#: The outcomes a task's creator is told about on its reply topic.
REPLY_TYPES = frozenset({"TaskSucceeded", "TaskAbandoned"})


def reply_topic(event_type: str, reply_to: str | None) -> str | None:
    """Where a copy of an event of ``event_type`` about a task created with ``reply_to`` goes (None: nowhere)."""
    return reply_to if reply_to in REPLY_TOPICS and event_type in REPLY_TYPES else None


def is_reply_copy(topic: str, event_type: str) -> bool:
    """Whether a record of ``event_type`` on ``topic`` is a copy of a task outcome logged on the task topic."""
    return topic in REPLY_TOPICS and event_type in REPLY_TYPES
