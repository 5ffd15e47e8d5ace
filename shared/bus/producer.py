"""An idempotent, acks=all producer that surfaces delivery errors instead of losing events."""

from __future__ import annotations

import logging
import time
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from shared import tracing
from shared.bus.client_config import kafka_config
from shared.bus.topics import DEAD_LETTER_MAX_BYTES
from shared.bus.transactional_client import TransactionalClient
from shared.events.codec import encode, spec_for
from shared.events.envelope import Envelope
from shared.metrics import EVENTS_PRODUCED, PRODUCE_ERRORS
from shared.settings import Settings

log = logging.getLogger(__name__)
Headers = list[tuple[str, bytes]]
#: Delivery reports of the records an aborted transaction dropped.
_PURGED = frozenset({KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT})


#: How long a transactional producer holds records before sending them; ``commit`` sends them sooner.
TRANSACTION_LINGER_MS = 1000
#: First retry delay of a transactional producer's requests (doubling up to librdkafka's retry.backoff.max.ms).
TRANSACTION_RETRY_BACKOFF_MS = 10
#: How long ``publish`` waits for room in a full local queue before ``ProducerQueueFull`` (Kafka's Java producer
#: blocks as long by default: ``max.block.ms``).
MAX_BLOCK_S = 60.0


class DeliveryError(RuntimeError):
    """Kafka did not store one or more events; the caller must not treat their effects as durable."""


class ProducerQueueFull(TimeoutError):
    """The producer's local queue stayed full for ``MAX_BLOCK_S``: the brokers are not taking records (a consumer
    loop retries its batch as after any transient error)."""


def producer_config(settings: Settings, *, client_id: str, transactional_id: str | None = None) -> dict[str, Any]:
    """librdkafka's configuration of an ``EventProducer``: idempotent, acks=all, lz4, lingering
    ``settings.producer_linger_ms`` (a transactional one ``TRANSACTION_LINGER_MS``)."""
    config = kafka_config(settings) | {
        "client.id": client_id,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": settings.producer_linger_ms,
        "compression.type": "lz4",
        "message.max.bytes": DEAD_LETTER_MAX_BYTES + 64 * 1024,
        "delivery.timeout.ms": 120_000,
    }
    if transactional_id:
        config["transactional.id"] = transactional_id
        config["transaction.timeout.ms"] = 120_000  # at least delivery.timeout.ms, as librdkafka requires
        # Nothing is visible before the commit, and committing sends what is queued at once: lingering costs
        # no latency, and a transaction's records leave in one produce request instead of one per linger.
        config["linger.ms"] = TRANSACTION_LINGER_MS
        # A transaction begun right after a commit may meet the coordinator still writing that commit's markers
        # (CONCURRENT_TRANSACTIONS). librdkafka retries AddOffsetsToTxn (``commit`` with offsets) after
        # retry.backoff.ms, 100 ms by default: that was most of the assigner's slowest commits while it still
        # committed group offsets. AddPartitionsToTxn is retried after 20 ms whatever this says.
        config["retry.backoff.ms"] = TRANSACTION_RETRY_BACKOFF_MS
    return config


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
        config = producer_config(settings, client_id=client_id, transactional_id=transactional_id)
        self._failures: list[str] = []
        # Records published while held (``hold``): produced by ``release_held``, or dropped.
        self._held: list[tuple[str, bytes | None, bytes | None, Headers | None, str]] | None = None
        self.transactional = bool(transactional_id)
        # A transactional client may be replaced after a broker restart (see ``transactional_client``).
        self._txn = TransactionalClient(config | (overrides or {})) if self.transactional else None
        self._plain = None if self._txn is not None else Producer(config | (overrides or {}))

    @property
    def _producer(self) -> Producer:
        return self._txn.client if self._txn is not None else self._plain  # type: ignore[return-value]

    def begin(self) -> None:
        """Start a transaction: what is published until ``commit`` becomes visible atomically, or not at all.
        Raises ``KafkaException`` while a client replaced after a broker restart cannot initialise yet."""
        assert self._txn is not None, "not a transactional producer"
        self._txn.begin()

    def commit(self, offsets: list[Any] | None = None, group_metadata: Any = None) -> None:
        """Commit the transaction, with the consumer offsets it covers (consume-transform-produce)."""
        assert self._txn is not None, "not a transactional producer"
        if offsets:
            self._txn.send_offsets(offsets, group_metadata)
        self._producer.commit_transaction(60)
        failures, self._failures = self._failures, []
        if failures:
            raise DeliveryError("; ".join(failures[:5]))

    def abort(self) -> None:
        """Drop everything published since ``begin``; read_committed consumers never see it."""
        assert self._txn is not None, "not a transactional producer"
        if self._txn.abort():
            # The purged records' delivery reports ("Purged in queue") belong to the aborted transaction: serve
            # them now, or the next ``commit`` would count them as its own failures and report a committed
            # transaction as failed (its caller would then abort a transaction that is no longer open).
            self._producer.poll(0)
        self._failures = []

    def hold(self) -> None:
        """Keep what is published from now on instead of producing it, until ``release_held`` or ``drop_held``
        (a batch handled while the previous batch's transaction commits: see ``background_commit``)."""
        if self._held is None:
            self._held = []

    @property
    def holding(self) -> bool:
        """Whether published records are being held (see ``hold``)."""
        return self._held is not None

    def release_held(self) -> int:
        """Produce what was held, in the order it was published (into the transaction open now); stop holding."""
        held, self._held = self._held or [], None
        for topic, key, value, headers, event_type in held:
            self.publish_raw(topic, key, value, headers, event_type=event_type)
        return len(held)

    def drop_held(self) -> None:
        """Forget what was held (its batch failed and will be handled again); stop holding."""
        self._held = None

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
        with tracing.produce_span(envelope, target):
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
        if self._held is not None:
            self._held.append((topic, key, value, headers, event_type))
            return

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            if err is not None and err.code() in _PURGED:
                return  # its transaction was aborted: nothing was meant to be delivered
            if err is not None:
                PRODUCE_ERRORS.labels(topic).inc()
                self._failures.append(f"{topic}: {err.str()}")
                log.error("delivery to %s failed: %s", topic, err.str())
            else:
                EVENTS_PRODUCED.labels(topic, event_type).inc()

        deadline = None
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, headers=headers or [], on_delivery=on_delivery)
                break
            except BufferError:
                # Local queue full: serve delivery reports to make room, then try again, for a while.
                deadline = deadline or time.monotonic() + MAX_BLOCK_S
                if time.monotonic() >= deadline:
                    raise ProducerQueueFull(
                        f"{topic}: the producer's queue stayed full for {MAX_BLOCK_S:.0f}s "
                        f"({len(self._producer)} record(s) not yet acknowledged); are the brokers reachable?"
                    ) from None
                self._producer.poll(0.5)
        self._producer.poll(0)

    def flush(self, timeout: float = 60.0) -> None:
        """Wait until every queued event is acknowledged by all in-sync replicas, or raise ``DeliveryError``."""
        if self._held is not None:
            raise RuntimeError("flush while records are held for the next transaction (see hold)")
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
