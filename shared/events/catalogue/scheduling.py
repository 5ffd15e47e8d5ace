"""Delayed delivery: a retry or a timeout is an event scheduled for later, never a sleep in a consumer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.bus.topics import SCHEDULER_DELAYED
from shared.events.envelope import Payload
from shared.events.spec import EventSpec


class ScheduleEvent(Payload):
    """Publish ``event`` (a whole envelope, with its deterministic id) at ``due_at``."""

    due_at: datetime
    event: dict[str, Any]


SPECS: tuple[EventSpec, ...] = (
    EventSpec(
        "ScheduleEvent",
        1,
        ScheduleEvent,
        SCHEDULER_DELAYED,
        "command",
        "scheduler",
        "Deliver an event when it comes due.",
    ),
)
