"""Publishing one command and waiting until Kafka has stored it: the gateway's only write."""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from prometheus_client import Counter

from shared.bus.dead_letters import DeadLetter, redrive
from shared.bus.producer import DeliveryError, EventProducer
from shared.events.codec import encode, new_event
from shared.events.envelope import Envelope, Payload
from shared.events.storable import body_holds_nul
from shared.settings import Settings

log = logging.getLogger(__name__)
PRODUCER_NAME = "gateway"

COMMANDS = Counter(
    "architect_gateway_commands_total",
    "Commands the gateway published, by outcome (acknowledged, unacknowledged, too_large, unstorable)",
    ["type", "outcome"],
)


class CommandNotAcknowledged(RuntimeError):
    """Kafka did not confirm a command in time; it may still arrive, so clients retry with an Idempotency-Key."""

    def __init__(self, command: str, timeout_s: float, cause: str) -> None:
        super().__init__(
            f"Kafka did not acknowledge the {command} command within {timeout_s:g}s ({cause}); it was not "
            "accepted. Retry with the same Idempotency-Key header to avoid a duplicate."
        )
        self.command = command


class CommandTooLarge(ValueError):
    """The encoded command exceeds the event size limit every consumer enforces."""


class CommandUnstorable(ValueError):
    """The command holds a NUL character, which no consumer accepts (the event log cannot store it)."""


class CommandBus:
    """Publishes commands one at a time and returns only after the broker's acknowledgement.

    One command is in flight at a time because ``EventProducer.flush`` reports every failure seen since the
    last flush: with two requests flushing concurrently, one could be told of the other's failure while its
    own was never confirmed. Build it with ``open`` so librdkafka's delivery timeout is ``timeout_s``: an
    unconfirmed command is then failed by the client within the request instead of being retried for minutes.
    """

    def __init__(self, producer: EventProducer, *, timeout_s: float, max_event_bytes: int) -> None:
        self._producer = producer
        self._timeout_s = timeout_s
        self._max_event_bytes = max_event_bytes
        self._lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings, *, timeout_s: float) -> CommandBus:
        """A bus with its own producer, whose delivery timeout is ``timeout_s``."""
        producer = EventProducer(
            settings, client_id=PRODUCER_NAME, overrides={"delivery.timeout.ms": int(timeout_s * 1000)}
        )
        return cls(producer, timeout_s=timeout_s, max_event_bytes=settings.max_event_bytes)

    def send(self, payload: Payload, *, stream_id: str, event_id: uuid.UUID) -> Envelope[Any]:
        """Publish ``payload`` keyed by ``stream_id`` (its correlation id too) and wait for the acknowledgement."""
        envelope = new_event(
            payload, producer=PRODUCER_NAME, stream_id=stream_id, correlation_id=stream_id, event_id=event_id
        )
        body = encode(envelope)
        if len(body) > self._max_event_bytes:
            COMMANDS.labels(envelope.type, "too_large").inc()
            raise CommandTooLarge(
                f"the {envelope.type} command is {len(body)} bytes; the limit is {self._max_event_bytes}"
            )
        if body_holds_nul(body):
            COMMANDS.labels(envelope.type, "unstorable").inc()
            raise CommandUnstorable(f"the {envelope.type} command holds a NUL character (\\u0000) in a string")
        with self._lock:
            self._producer.publish(envelope)
            try:
                # A second more than librdkafka's own delivery timeout, so the outcome is known when this returns.
                self._producer.flush(self._timeout_s + 1.0)
            except DeliveryError as exc:
                COMMANDS.labels(envelope.type, "unacknowledged").inc()
                log.warning("%s %s not acknowledged: %s", envelope.type, envelope.event_id, exc)
                raise CommandNotAcknowledged(envelope.type, self._timeout_s, str(exc)) from None
        COMMANDS.labels(envelope.type, "acknowledged").inc()
        return envelope

    def redrive(self, letter: DeadLetter) -> None:
        """Publish a dead letter's original bytes back to its source topic and wait for the acknowledgement."""
        with self._lock:
            redrive(self._producer, letter)
            try:
                self._producer.flush(self._timeout_s + 1.0)
            except DeliveryError as exc:
                COMMANDS.labels("Redrive", "unacknowledged").inc()
                raise CommandNotAcknowledged("re-drive", self._timeout_s, str(exc)) from None
        COMMANDS.labels("Redrive", "acknowledged").inc()

    def close(self) -> None:
        """Flush whatever is still queued; a failure here is logged, as nobody is waiting for it any more."""
        with self._lock:
            try:
                self._producer.close(timeout=self._timeout_s + 1.0)
            except DeliveryError as exc:
                log.warning("commands still undelivered at shutdown: %s", exc)
