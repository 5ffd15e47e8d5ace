"""One input to the coordinator, end to end: read the saga's record, decide, store, send.

Sending does not wait for Kafka: events are handed to the producer, and faust flushes it before it commits the
input's offset, so effects are durable before the input counts as done. Until then a crash may have delivered
some of a decision's records and lost others, the table's changelog among them. So each stored record keeps
its debt (under ``pending``): every event sent for the saga that this process has not seen acknowledged, with
the id of the input that caused the newest of them. Kafka's acknowledgements are followed in memory; the debt
is trimmed to what is still unacknowledged the next time the saga's record is written anyway, never by a
write of its own.

After a crash the table comes back from its changelog and uncommitted inputs are handled again. If the record
came back without the decision, the input is decided again: same event ids, so consumers de-duplicate. If it
came back with it, the debt this process knows nothing about is sent again (same ids), and the input that
caused it is recognised and not decided twice. So no request is lost, and none is made twice.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, Protocol

from services.saga_coordinator.coordinator import DefinitionLookup, Delayed, decide
from shared.events.codec import decode, encode
from shared.events.envelope import Envelope
from shared.events.scheduling_client import schedule

PRODUCER = "saga-coordinator"
#: Key of a record's events not yet known to be acknowledged by Kafka (with the id of the input that caused them).
PENDING = "pending"
#: Task events the coordinator reacts to (step outcomes, copied to its command topic); others are skipped before
#: any lookup.
TASK_RESULTS = frozenset({"TaskSucceeded", "TaskAbandoned"})
#: Sagas whose deliveries are followed in memory; beyond this the oldest are forgotten (their debt is re-sent).
TRACKED_SAGAS = 100_000


class Delivery(Protocol):
    """An event's delivery, as the producer's future: done once Kafka acknowledged or refused it."""

    def done(self) -> bool: ...

    def cancelled(self) -> bool: ...

    def exception(self) -> BaseException | None: ...


#: Hands an event to the producer and returns its delivery.
Send = Callable[[Envelope[Any]], Awaitable[Delivery]]


class _Sent:
    """The deliveries of one saga's latest debt, as sent by this process."""

    def __init__(self, cause: str) -> None:
        self.cause = cause
        self.deliveries: dict[str, Delivery] = {}

    def acknowledged(self, text: str) -> bool:
        delivery = self.deliveries.get(text)
        if delivery is None or not delivery.done() or delivery.cancelled():
            return False
        return delivery.exception() is None

    def in_flight(self, text: str) -> bool:
        delivery = self.deliveries.get(text)
        return delivery is not None and not delivery.done()


class SagaHandler:
    """Applies inputs to the sagas in ``table``; ``send`` hands an event to the producer without waiting."""

    def __init__(
        self,
        table: MutableMapping[str, Any],
        send: Send,
        definitions: DefinitionLookup,
        clock: Callable[[], float] = time.time,
        tracked: int = TRACKED_SAGAS,
    ) -> None:
        self.table, self.send, self.definitions, self.clock = table, send, definitions, clock
        self._sent: OrderedDict[str, _Sent] = OrderedDict()
        self._tracked = tracked

    async def __call__(self, event: Envelope[Any]) -> None:
        if event.type.startswith("Task") and event.type not in TASK_RESULTS:
            return
        saga_id = event.stream_id
        stored: Mapping[str, Any] | None = self.table.get(saga_id)
        if stored is None and event.type.startswith("Task"):
            return  # the task of no saga held here
        owed: list[str] = []
        if stored is not None and stored.get(PENDING):
            debt = stored[PENDING]
            owed = await self._settle(saga_id, debt)
            stored = {k: v for k, v in stored.items() if k != PENDING}
            if str(event.event_id) == debt["cause"]:
                return  # the input whose decision is stored: handled (its unacknowledged events are sent again)
        decision = decide(stored, event, self.clock(), self.definitions)
        outputs = [
            schedule(out.event, delay_s=out.delay_s, producer=PRODUCER) if isinstance(out, Delayed) else out
            for out in decision.emit
        ]
        if decision.record is None or (decision.record == stored and not outputs):
            return
        texts = [encode(out).decode() for out in outputs]
        record = dict(decision.record)
        if owed or texts:
            record[PENDING] = {"cause": str(event.event_id), "events": owed + texts}
        self.table[saga_id] = record
        sent = self._track(saga_id, str(event.event_id), owed)
        for out, text in zip(outputs, texts, strict=True):
            sent.deliveries[text] = await self.send(out)

    async def _settle(self, saga_id: str, debt: Mapping[str, Any]) -> list[str]:
        """The debt's events not yet acknowledged; those this process did not send (or saw fail) are sent again."""
        known = self._sent.get(saga_id)
        if known is not None and known.cause != debt["cause"]:
            known = None
        owed = [text for text in debt["events"] if known is None or not known.acknowledged(text)]
        resent = self._track(saga_id, debt["cause"], [])
        for text in owed:
            if known is not None and known.in_flight(text):
                resent.deliveries[text] = known.deliveries[text]
            else:
                resent.deliveries[text] = await self.send(decode(text.encode()))
        return owed

    def _track(self, saga_id: str, cause: str, carried: list[str]) -> _Sent:
        """Start following the deliveries of ``saga_id``'s debt caused by ``cause`` (keeping ``carried``'s)."""
        previous = self._sent.pop(saga_id, None)
        sent = _Sent(cause)
        if previous is not None:
            sent.deliveries = {text: previous.deliveries[text] for text in carried if text in previous.deliveries}
        self._sent[saga_id] = sent
        while len(self._sent) > self._tracked:
            self._sent.popitem(last=False)
        return sent
