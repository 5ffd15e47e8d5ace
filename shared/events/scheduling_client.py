"""Ask the scheduler to deliver an event later."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.events.catalogue.scheduling import ScheduleEvent
from shared.events.codec import encode, new_event
from shared.events.envelope import Envelope


def schedule(event: Envelope[Any], *, delay_s: float, now: datetime | None = None, producer: str) -> Envelope[Any]:
    """The ScheduleEvent command that delivers ``event`` after ``delay_s`` (its id derives from the event's)."""
    due = (now or datetime.now(UTC)) + timedelta(seconds=delay_s)
    command = ScheduleEvent(due_at=due, event=json.loads(encode(event)))
    return new_event(
        command,
        producer=producer,
        stream_id=event.stream_id,
        correlation_id=event.correlation_id,
        causation_id=event.causation_id,
        event_id=event.derive_id("schedule"),
    )
