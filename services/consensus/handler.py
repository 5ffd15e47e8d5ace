"""One input to the engine, end to end: read the decision's record, decide, store, publish.

The record and the events it owes are stored first (under ``pending``); once Kafka acknowledged every event
the debt is cleared. After a crash the table comes back from its changelog and uncommitted inputs are handled
again: a decision with a debt pays it first (same event ids, so consumers de-duplicate), and a decision that
already consumed an input ignores it (the aggregate is idempotent). So no request is lost, and none is made
twice.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import replace
from typing import Any

from services.consensus.engine import PRODUCER, Delayed, EngineOptions, decide
from services.consensus.track_record import TrackRecord
from shared.events.codec import decode, encode
from shared.events.envelope import Envelope
from shared.events.scheduling_client import schedule

#: Key of a record's events not yet acknowledged by Kafka (with the id of the input that caused them).
PENDING = "pending"
#: Task events the engine reacts to (voters' outcomes, copied to its command topic); others are skipped before any
#: lookup.
TASK_RESULTS = frozenset({"TaskSucceeded"})

Publish = Callable[[Envelope[Any]], Awaitable[None]]
TrackRecords = Callable[[Sequence[str]], Mapping[str, TrackRecord]]


class DecisionHandler:
    """Applies inputs to the decisions in ``table``; ``publish`` must return once Kafka acknowledged the event."""

    def __init__(
        self,
        table: MutableMapping[str, Any],
        publish: Publish,
        options: EngineOptions,
        clock: Callable[[], float] = time.time,
        track_records: TrackRecords | None = None,
    ) -> None:
        self.table, self.publish, self.options, self.clock = table, publish, options, clock
        self.track_records = track_records

    async def __call__(self, event: Envelope[Any]) -> None:
        if event.type.startswith("Task") and event.type not in TASK_RESULTS:
            return
        decision_id = event.stream_id
        stored: Mapping[str, Any] | None = self.table.get(decision_id)
        if stored is None and event.type.startswith("Task"):
            return  # the task of no decision held here
        if stored is not None and stored.get(PENDING):
            cause = stored[PENDING]["cause"]
            stored = await self._pay_debt(decision_id, stored)
            if str(event.event_id) == cause:
                return  # the input whose events were owed: it is fully handled now
        options = self.options
        if event.type == "RequestDecision" and stored is None and self.track_records is not None:
            options = replace(options, track_records=self.track_records(event.payload.electorate))
        step = decide(stored, event, self.clock(), options)
        outputs = [
            schedule(out.event, delay_s=out.delay_s, producer=PRODUCER) if isinstance(out, Delayed) else out
            for out in step.emit
        ]
        if step.record is None or (step.record == stored and not outputs):
            return
        if outputs:
            debt = {"cause": str(event.event_id), "events": [encode(out).decode() for out in outputs]}
            self.table[decision_id] = {**step.record, PENDING: debt}
            for out in outputs:
                await self.publish(out)
        self.table[decision_id] = step.record

    async def _pay_debt(self, decision_id: str, stored: Mapping[str, Any]) -> dict[str, Any]:
        """Publish the events a crash kept from being acknowledged (same ids), then clear the debt."""
        for text in stored[PENDING]["events"]:
            await self.publish(decode(text.encode()))
        record = {k: v for k, v in stored.items() if k != PENDING}
        self.table[decision_id] = record
        return record
