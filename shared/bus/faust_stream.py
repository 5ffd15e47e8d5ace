"""The consumer-loop guarantees for faust-streaming apps (orchestrator, saga coordinator, drift monitor).

``envelopes(stream)`` decodes and validates each record, dead-letters bad ones (original bytes, error and
source position in headers), retries a failing handler and dead-letters the record when it keeps failing, and
runs the handler inside a CONSUMER span parented by the producer's. Faust acknowledges (and later commits) an
event only after the agent body has finished with it, and flushes its producer before it commits offsets
(``FaustPublisher.publish(wait=True)`` also waits for each acknowledgement), so effects are durable before
offsets move. ``envelopes(types=...)`` skips records of other types by their ``architect-type`` header, undecoded.

A failure that says nothing about the record (``is_transient``: a table's changelog not yet in the consumer's
metadata, a retriable Kafka error) is retried until it passes, never dead-lettered: bad input is dead-lettered,
a good record is not lost to an infrastructure hiccup. A table's ``PartitionsMismatch`` first makes the
consumer fetch the cluster metadata again (otherwise refreshed every 5 minutes). One that a refresh does not
clear (a changelog of another partition count, which the service refuses at its next start) holds its partition
back, with a warning per retry, rather than dead-lettering every record behind it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiokafka.errors
import faust
from confluent_kafka import KafkaError, KafkaException
from faust.exceptions import PartitionsMismatch

from shared import tracing
from shared.bus import faust_committed as committed
from shared.bus.consumer import RejectRecord
from shared.bus.dead_letters import dead_letter
from shared.bus.partitioning import librdkafka_partitioner
from shared.bus.producer import EventProducer
from shared.bus.record import Record
from shared.bus.shutdown_deadline import bound_faust_shutdown
from shared.bus.tls import KafkaSecuritySettingsError, ssl_context
from shared.events.catalogue import CATALOGUE
from shared.events.codec import DecodeError, decode, encode, spec_for
from shared.events.envelope import Envelope
from shared.metrics import EVENTS_CONSUMED, HANDLER_RETRIES, HANDLER_SECONDS
from shared.settings import Settings

log = logging.getLogger(__name__)
Handler = Callable[[Envelope[Any]], Awaitable[None]]
#: The header producers copy the envelope's type into (``Envelope.header_metadata``).
TYPE_HEADER = "architect-type"
SESSION_TIMEOUT_S = 10.0
#: How much a poll hands to the app's streams, and how much one fetch brings per partition. With faust's defaults
#: (all that was fetched, up to 1 MB per partition) an agent fed by two topics worked through one topic's whole
#: fetched backlog before the other's records: the orchestrator handled goal commands for 5-7 s, then task events
#: for 2-3 s creating no task. With these, 126-133 instead of 108-109 tasks/s and 14-15 instead of 16-17 ms of CPU
#: per task end to end (bench/results/goal_path.md); tests/integration/test_faust_stream.py checks the interleaving.
MAX_POLL_RECORDS = 100
MAX_FETCH_BYTES_PER_PARTITION = 65_536
#: How many fetched records an agent's stream may hold unhandled (faust's default 4096): the consumer stops handing
#: records to a stream this far ahead of it, so a record of another topic waits behind at most this many.
STREAM_BUFFER = 256
#: The longest pause between retries of a transient failure.
TRANSIENT_BACKOFF_MAX_S = 5.0


def make_app(name: str, settings: Settings, **options: Any) -> faust.App:
    """A faust app wired to the configured brokers, with the catalogue's topics declared by bootstrap, not faust.

    It reads committed records only and commits its offsets past transaction markers (``faust_committed``)."""
    bound_faust_shutdown(settings.shutdown_timeout_s)
    brokers = [f"kafka://{host}" for host in settings.kafka_bootstrap_servers.split(",")]
    datadir = settings.data_dir / "faust" / name
    datadir.parent.mkdir(parents=True, exist_ok=True)
    defaults: dict[str, Any] = {
        "broker": brokers,
        "store": "memory://",
        "web_enabled": False,
        "topic_partitions": settings.topic_partitions,
        "topic_replication_factor": settings.topic_replication_factor,
        "consumer_auto_offset_reset": "earliest",
        # As ConsumerLoop: a killed member's partitions move to its replacement after 10 s, not faust's 60 s.
        "broker_session_timeout": SESSION_TIMEOUT_S,
        "broker_max_poll_records": MAX_POLL_RECORDS,
        "stream_buffer_maxsize": STREAM_BUFFER,
        "consumer_max_fetch_size": MAX_FETCH_BYTES_PER_PARTITION,
        "producer_acks": -1,
        # Events published within the linger (5 ms by default) share a produce request (aiokafka sent one per
        # handled event otherwise; the orchestrator sends a few per event).
        "producer_linger": settings.producer_linger_ms / 1000,
        # Keys land where confluent-kafka puts them: one partition per stream, whichever service wrote it.
        "producer_partitioner": librdkafka_partitioner,
        "broker_credentials": _credentials(settings),
        "datadir": str(datadir),
    }
    return committed.App(name, **(defaults | options))


def _credentials(settings: Settings) -> Any:
    """faust's broker credentials for the configured security protocol (SASL and TLS as librdkafka gets them)."""
    protocol = settings.kafka_security_protocol.upper()
    if protocol.startswith("SASL"):
        if not (settings.kafka_sasl_username and settings.kafka_sasl_password):
            raise KafkaSecuritySettingsError(
                f"ARCHITECT_KAFKA_SECURITY_PROTOCOL={protocol} needs ARCHITECT_KAFKA_SASL_USERNAME and _PASSWORD"
            )
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password.get_secret_value(),
            mechanism=settings.kafka_sasl_mechanism or "SCRAM-SHA-512",
            ssl_context=ssl_context(settings) if protocol == "SASL_SSL" else None,
        )
    if protocol == "SSL":
        return faust.SSLCredentials(ssl_context(settings))
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether a handler's failure comes from the bus, not from the record: retried, never dead-lettered.

    A table's ``PartitionsMismatch`` (faust compares the changelog's partition count, as the consumer's metadata
    has it, with the source topic's: a changelog created while the consumer was starting shows 0 partitions
    until the metadata is fetched again), Kafka errors that Kafka itself calls retriable, from either client, and
    aiokafka's timeouts.
    """
    if isinstance(exc, PartitionsMismatch):
        return True
    if isinstance(exc, aiokafka.errors.KafkaTimeoutError):  # no answer from the broker in time
        return True
    if isinstance(exc, aiokafka.errors.KafkaError):
        return bool(exc.retriable)
    if isinstance(exc, KafkaException):
        error = exc.args[0] if exc.args else None
        return isinstance(error, KafkaError) and error.retriable()
    return False


def transient_backoff_s(retry: int) -> float:
    """The pause before the ``retry``-th retry (from 1) of a transient failure: doubling from 0.1 s, at most
    ``TRANSIENT_BACKOFF_MAX_S``."""
    return min(TRANSIENT_BACKOFF_MAX_S, 0.1 * 2 ** min(retry - 1, 16))


def raw_topic(app: faust.App, *names: str) -> faust.TopicT:
    """Catalogued topics read as bytes: decoding is ours, so a bad record reaches us instead of crashing faust."""
    return app.topic(*names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


class FaustPublisher:
    """Publishes envelopes from a faust app; ``wait=True`` also waits for the broker's acknowledgement
    (otherwise faust's flush before the next offset commit is what makes them durable)."""

    def __init__(self, app: faust.App) -> None:
        self._app = app
        self._topics: dict[str, faust.TopicT] = {}

    async def publish(self, envelope: Envelope[Any], *, wait: bool = False) -> Awaitable[Any]:
        """Hand ``envelope`` to the producer; returns its delivery (a future Kafka's acknowledgement resolves)."""
        name = spec_for(envelope.type).topic
        topic = self._topics.get(name)
        if topic is None:  # built once per topic: faust's App.topic is costly on the hot path
            topic = self._topics[name] = raw_topic(self._app, name)
        with tracing.produce_span(envelope, name):
            headers = [(k, v.encode()) for k, v in envelope.header_metadata().items()]
            tracing.inject(headers)
            future = await topic.send(key=envelope.stream_id.encode(), value=encode(envelope), headers=headers)
            if wait:
                await future
            return future


async def envelopes(
    stream: faust.StreamT,
    handler: Handler,
    *,
    group: str,
    settings: Settings,
    dead_letters: EventProducer,
    max_attempts: int = 5,
    types: frozenset[str] | None = None,
) -> AsyncIterator[Envelope[Any]]:
    """Drive ``handler`` over a raw stream; yields each envelope after it was handled (for progress and tests).

    ``types``: the only types the handler acts on. A record whose ``architect-type`` header names another
    catalogued type is skipped without being decoded; one without the header, or naming an unknown type, is
    decoded (and dead-lettered if bad) as usual."""

    async def refresh_metadata() -> None:
        await committed.refresh_metadata(stream.app)

    async for event in stream.events():
        message = event.message
        if types is not None and _skippable(message.headers, types):
            continue
        record = Record(
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            value=message.value,
            headers=list(
                (message.headers or {}).items() if isinstance(message.headers, dict) else message.headers or []
            ),
            timestamp_ms=int((message.timestamp or 0) * 1000),
        )
        try:
            envelope = decode(record.value, record.key, max_bytes=settings.max_event_bytes)
        except DecodeError as exc:
            log.warning("dead-lettering %s[%d]@%d: %s", record.topic, record.partition, record.offset, exc)
            dead_letter(dead_letters, record, reason=exc.reason, error=exc.message, group=group)
            dead_letters.flush()
            continue
        if await _handle(handler, envelope, record, group, dead_letters, max_attempts, refresh_metadata):
            yield envelope


def _skippable(headers: Any, types: frozenset[str]) -> bool:
    items = headers.items() if isinstance(headers, dict) else headers or ()
    for key, value in items:
        if key == TYPE_HEADER:
            named = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
            return named not in types and named in CATALOGUE
    return False


async def _handle(
    handler: Handler,
    envelope: Envelope[Any],
    record: Record,
    group: str,
    dead_letters: EventProducer,
    max_attempts: int,
    refresh_metadata: Callable[[], Awaitable[None]] | None = None,
) -> bool:
    """Run ``handler`` until it succeeds (True); dead-letter the record (False) when it rejects it or fails
    ``max_attempts`` times. Transient failures (``is_transient``) do not count: retried with a growing pause."""
    attempt = transient = 0
    while True:
        started = asyncio.get_running_loop().time()
        try:
            with tracing.consume_span(
                record.topic,
                record.headers,
                f"process {envelope.type}",
                envelope=envelope,
            ):
                await handler(envelope)
        except RejectRecord as exc:
            dead_letter(dead_letters, record, reason=exc.reason, error=str(exc), group=group)
            dead_letters.flush()
            return False
        except Exception as exc:
            HANDLER_RETRIES.labels(group).inc()
            if is_transient(exc):
                transient += 1
                log.warning(
                    "%s: %s at %s[%d]@%d is transient, retrying (retry %d): %r",
                    group,
                    envelope.type,
                    record.topic,
                    record.partition,
                    record.offset,
                    transient,
                    exc,
                )
                if isinstance(exc, PartitionsMismatch) and refresh_metadata is not None:
                    await _refresh(refresh_metadata, group)
                await asyncio.sleep(transient_backoff_s(transient))
                continue
            attempt += 1
            log.warning("%s: handler failed on %s (attempt %d): %r", group, envelope.type, attempt, exc)
            if attempt >= max_attempts:
                dead_letter(
                    dead_letters, record, reason="handler_error", error=f"{type(exc).__name__}: {exc}", group=group
                )
                dead_letters.flush()
                return False
            await asyncio.sleep(0.05 * attempt)
            continue
        HANDLER_SECONDS.labels(group, envelope.type).observe(asyncio.get_running_loop().time() - started)
        EVENTS_CONSUMED.labels(group, record.topic, envelope.type).inc()
        return True


async def _refresh(refresh_metadata: Callable[[], Awaitable[None]], group: str) -> None:
    try:
        await refresh_metadata()
    except Exception as exc:  # the retry goes on; the periodic refresh remains
        log.warning("%s: could not refresh the consumer's metadata: %r", group, exc)
