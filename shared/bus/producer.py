"""An idempotent, acks=all producer that surfaces delivery errors instead of losing events."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from confluent_kafka import KafkaError, Message, Producer
from opentelemetry.trace import SpanKind

from shared import tracing
from shared.bus.client_config import kafka_config
from shared.bus.topics import DEAD_LETTER_MAX_BYTES
from shared.events.codec import encode, spec_for
from shared.events.envelope import Envelope
from shared.metrics import EVENTS_PRODUCED, PRODUCE_ERRORS
from shared.settings import Settings

log = logging.getLogger(__name__)
Headers = list[tuple[str, bytes]]


class DeliveryError(RuntimeError):
    """Kafka did not store one or more events; the caller must not treat their effects as durable."""


class EventProducer:
    """Publishes envelopes to their catalogued topic, keyed by stream id, with trace context in headers."""

    def __init__(
        self,
        settings: Settings,
        *,
        client_id: str,
        transactional_id: str | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> None:
        config = kafka_config(settings) | {
            "client.id": client_id,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
            "message.max.bytes": DEAD_LETTER_MAX_BYTES + 64 * 1024,
            "delivery.timeout.ms": 120_000,
        }
        if transactional_id:
            config["transactional.id"] = transactional_id
            config["transaction.timeout.ms"] = 120_000  # at least delivery.timeout.ms, as librdkafka requires
        self._producer = Producer(config | (overrides or {}))
        self._failures: list[str] = []
        self.transactional = bool(transactional_id)
        self._watchdog = _StuckCallWatchdog(TXN_CALL_LIMIT_S)
        if self.transactional:
            # Fences any older instance with the same id (a zombie after a restart) and aborts its open transaction.
            self._producer.init_transactions(60)

    def begin(self) -> None:
        """Start a transaction: what is published until ``commit`` becomes visible atomically, or not at all."""
        self._producer.begin_transaction()

    def commit(self, offsets: list[Any] | None = None, group_metadata: Any = None) -> None:
        """Commit the transaction, with the consumer offsets it covers (consume-transform-produce)."""
        if offsets:
            with self._watchdog.bounded("send_offsets_to_transaction"):
                self._producer.send_offsets_to_transaction(offsets, group_metadata, 60)
        self._producer.commit_transaction(60)
        failures, self._failures = self._failures, []
        if failures:
            raise DeliveryError("; ".join(failures[:5]))

    def abort(self) -> None:
        """Drop everything published since ``begin``; read_committed consumers never see it."""
        self._failures = []
        self._producer.abort_transaction(60)

    def publish(
        self,
        envelope: Envelope[Any],
        *,
        topic: str | None = None,
        value: bytes | None = None,
        headers: Headers | None = None,
    ) -> None:
        """Queue one event; delivery is confirmed by ``flush``. Opens a PRODUCER span around the send.

        ``value`` is the envelope's encoding when the caller has it already (e.g. to sign it); ``headers`` are
        added to the metadata and trace headers."""
        target = topic or spec_for(envelope.type).topic
        with tracing.tracer().start_as_current_span(
            f"publish {envelope.type}",
            kind=SpanKind.PRODUCER,
            attributes=tracing.event_attributes(envelope, target),
        ):
            all_headers: Headers = [(k, v.encode()) for k, v in envelope.header_metadata().items()]
            all_headers += headers or []
            tracing.inject(all_headers)
            body = value if value is not None else encode(envelope)
            self.publish_raw(target, envelope.stream_id.encode(), body, all_headers, event_type=envelope.type)

    def publish_raw(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers | None = None,
        *,
        event_type: str = "raw",
    ) -> None:
        """Queue bytes as they are (dead letters, re-drives, tools)."""

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                PRODUCE_ERRORS.labels(topic).inc()
                self._failures.append(f"{topic}: {err.str()}")
                log.error("delivery to %s failed: %s", topic, err.str())
            else:
                EVENTS_PRODUCED.labels(topic, event_type).inc()

        while True:
            try:
                self._producer.produce(topic, value=value, key=key, headers=headers or [], on_delivery=on_delivery)
                break
            except BufferError:
                # Local queue full: serve delivery reports to make room, then try again.
                self._producer.poll(0.5)
        self._producer.poll(0)

    def flush(self, timeout: float = 60.0) -> None:
        """Wait until every queued event is acknowledged by all in-sync replicas, or raise ``DeliveryError``."""
        remaining = self._producer.flush(timeout)
        failures, self._failures = self._failures, []
        if remaining:
            failures.append(f"{remaining} event(s) still undelivered after {timeout:.0f}s")
        if failures:
            raise DeliveryError(
                "; ".join(failures[:5]) + (f" (+{len(failures) - 5} more)" if len(failures) > 5 else "")
            )

    def close(self, timeout: float = 30.0) -> None:
        """Flush on shutdown so nothing queued is lost silently."""
        self.flush(timeout)


#: librdkafka's transactional timeout (60 s) plus a margin: a call blocked longer than this never returns.
TXN_CALL_LIMIT_S = 75.0
#: The exit code of a process whose Kafka client hung (its supervisor restarts it; state comes from Kafka).
EXIT_CLIENT_HUNG = 75


class _StuckCallWatchdog:
    """Ends the process when a guarded call blocks past its limit.

    librdkafka's ``send_offsets_to_transaction`` ignores its timeout and can block forever when the group
    coordinator went away, e.g. across a broker restart (confluentinc/librdkafka#5456, #5511): the service would
    stay up doing nothing. Exiting instead lets the supervisor (compose ``restart: unless-stopped``, Kubernetes)
    start it again; the new instance fences the old transaction and re-reads from the committed offsets
    (found by the fault suite: the assigner hung for good after a broker restart).
    """

    def __init__(self, limit_s: float) -> None:
        self._limit_s = limit_s
        self._deadline: float | None = None
        self._call = ""
        self._thread: threading.Thread | None = None

    def bounded(self, call: str) -> _StuckCallWatchdog:
        self._call = call
        return self

    def __enter__(self) -> None:
        self._deadline = time.monotonic() + self._limit_s
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="kafka-call-watchdog", daemon=True)
            self._thread.start()

    def __exit__(self, *_exc: object) -> None:
        self._deadline = None

    def _watch(self) -> None:
        while True:
            time.sleep(1.0)
            deadline = self._deadline
            if deadline is not None and time.monotonic() > deadline:
                log.critical(
                    "%s blocked for more than %gs (a librdkafka hang); exiting so that the service is restarted",
                    self._call,
                    self._limit_s,
                )
                logging.shutdown()
                os._exit(EXIT_CLIENT_HUNG)
