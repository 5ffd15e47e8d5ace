"""Scheduler: holds ScheduleEvent commands until they are due, then publishes the event they carry.

Pending timers live in a compacted topic (one record per timer, deleted when fired), so a restart loses none;
a timer that fired just before a crash may fire again, with the same event id, which consumers de-duplicate.
"""

from __future__ import annotations

import json
import logging
import time

from services.scheduler.timers import Timer, TimerQueue
from shared import tracing
from shared.bus.consumer import ConsumerLoop, Delivery, RejectRecord
from shared.bus.producer import EventProducer
from shared.bus.state_store import CompactedState
from shared.bus.topics import SCHEDULER_DELAYED, SCHEDULER_STATE
from shared.events.codec import DecodeError, decode
from shared.metrics import TIMERS_PENDING
from shared.settings import Settings

log = logging.getLogger(__name__)
GROUP = "architect-scheduler"


class Scheduler:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.producer = EventProducer(settings, client_id="scheduler")
        self.state = CompactedState(settings, SCHEDULER_STATE, self.producer)
        self.timers = TimerQueue()
        self.loop = ConsumerLoop(
            settings,
            group_id=GROUP,
            topics=[SCHEDULER_DELAYED],
            producer=self.producer,
            handler=self.schedule,
            before_commit=self.state.flush,
            tick=self.fire_due,
            poll_timeout=0.1,
        )

    def schedule(self, delivery: Delivery) -> None:
        payload = delivery.envelope.payload
        try:
            inner = decode(json.dumps(payload.event).encode(), max_bytes=self._settings.max_event_bytes)
        except DecodeError as exc:
            raise RejectRecord("invalid_scheduled_event", f"the event to schedule is invalid: {exc}") from None
        timer = Timer(payload.due_at.timestamp(), str(inner.event_id), payload.event, tracing.current_trace_headers())
        if self.timers.add(timer):
            self.state.put(timer.event_id, timer.to_dict())
        TIMERS_PENDING.set(len(self.timers))

    def fire_due(self) -> None:
        due = self.timers.pop_due(time.time())
        if not due:
            return
        for timer in due:
            event = decode(json.dumps(timer.event).encode())
            with tracing.resumed_span(timer.trace, f"fire {event.type}", tracing.event_attributes(event, "timer")):
                self.producer.publish(event)
            self.state.delete(timer.event_id)
        self.state.flush()
        self.producer.flush()
        TIMERS_PENDING.set(len(self.timers))

    def run(self) -> None:
        loaded = self.state.load()
        for _, value in self.state.items():
            self.timers.add(Timer.from_dict(value))
        log.info("scheduler: %d pending timer(s) restored", loaded)
        try:
            self.loop.run()
        finally:
            self.producer.close()

    def stop(self) -> None:
        self.loop.stop()
