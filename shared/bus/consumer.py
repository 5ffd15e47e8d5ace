"""The consumer loop every confluent-kafka service runs.

With a transactional producer the loop is exactly-once within Kafka: each batch's events, dead letters, state
changes and consumed offsets are committed in one Kafka transaction, or aborted together and re-read. The offsets
go to the consumer group (``send_offsets_to_transaction``), or, with an ``OffsetStore``, into the service's own
state in the same transaction: two round trips fewer per commit, and the loop then seeks to the stored positions
whenever partitions are assigned. With an offset store a loop may also ``commit_in_background``: each commit runs
on a helper thread while the next batches are handled and held for the transaction after it.

Per batch: decode and validate each record (bad ones go to the dead-letter topic), hand the good ones to the
handler inside a CONSUMER span parented by the producer's, make the handler's effects durable (flush the
producer), and only then commit offsets. Handler errors are retried; transient ones (broker or database
unavailable) forever with capped backoff, others up to ``max_attempts`` and then dead-lettered, so one
poison record never blocks or crashes a service.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from confluent_kafka import OFFSET_STORED, Consumer, KafkaError, KafkaException, TopicPartition

from shared import tracing
from shared.bus.background_commit import BackgroundCommit, CannotBegin
from shared.bus.client_config import kafka_config
from shared.bus.dead_letters import dead_letter
from shared.bus.producer import DeliveryError, EventProducer, ProducerQueueFull
from shared.bus.record import Record
from shared.events.catalogue import CATALOGUE
from shared.events.codec import DecodeError, decode
from shared.events.envelope import Envelope
from shared.metrics import CONSUMER_LAG, EVENTS_CONSUMED, HANDLER_RETRIES, HANDLER_SECONDS
from shared.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """A decoded envelope and the record it came from."""

    envelope: Envelope[Any]
    record: Record


RecordHandler = Callable[[Delivery], None]
#: Gets the valid deliveries and every record of the batch (dead-lettered ones included), whose offsets a
#: handler that stores positions itself must record too.
BatchHandler = Callable[[Sequence[Delivery], Sequence[Record]], None]
AssignHook = Callable[[list[TopicPartition]], list[TopicPartition]]
#: (topic, type named by a record's ``architect-type`` header) -> whether the handler acts on such records.
TypeFilter = Callable[[str, str], bool]
#: How often a loop with an ``OffsetStore`` also commits its positions to the consumer group, outside its
#: transactions, for lag monitoring only (it never reads them back while positions are stored).
GROUP_OFFSETS_EVERY_S = 10.0
#: The longest poll of a loop holding batches while a commit is in flight (``commit_in_background``).
HELD_POLL_S = 0.002


class OffsetStore(Protocol):
    """Where a transactional loop keeps its consumed positions instead of the consumer group."""

    def positions(self) -> dict[tuple[str, int], int]:
        """The next offset to read of each (topic, partition) stored so far (as of the last committed batch)."""

    def store_positions(self, offsets: Sequence[TopicPartition]) -> None:
        """Record the batch's next offsets in the state the open transaction commits."""


#: The header producers copy the envelope's type into (``Envelope.header_metadata``).
TYPE_HEADER = "architect-type"


class RejectRecord(Exception):
    """Raised by a handler for a record it can never process (sent to the dead-letter topic at once)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _seek_assigned(consumer: Consumer, group_id: str, positions: dict[tuple[str, int], int]) -> None:
    """Seek each partition still assigned to ``consumer``; one revoked meanwhile is its new owner's to position."""
    assigned = {(tp.topic, tp.partition) for tp in consumer.assignment()}
    for (topic, partition), offset in positions.items():
        if (topic, partition) not in assigned:
            log.info("consumer %s: not rewinding %s[%d]: no longer assigned", group_id, topic, partition)
            continue
        log.info("consumer %s: rewinding %s[%d] to %d", group_id, topic, partition, offset)
        consumer.seek(TopicPartition(topic, partition, offset))


class Rewind(Exception):
    """Raised by a batch handler whose durable position differs from the consumer's: seek and re-read."""

    def __init__(self, positions: dict[tuple[str, int], int]) -> None:
        super().__init__(f"rewind to {positions}")
        self.positions = positions


def is_transient(exc: BaseException) -> bool:
    """Errors from unavailable infrastructure: retry the same batch rather than dead-letter its records."""
    transient_names = {"OperationalError", "InterfaceError", "PoolTimeout", "ConnectionTimeout"}
    return isinstance(exc, KafkaException | DeliveryError | ConnectionError | TimeoutError) or any(
        cls.__name__ in transient_names for cls in type(exc).__mro__
    )


def _refused(record: Record, accepts: TypeFilter) -> bool:
    """Whether the record's type header names a catalogued type ``accepts`` refuses; a record without the header,
    or naming an unknown type, is decoded (and dead-lettered if bad) as usual."""
    for key, value in record.headers:
        if key == TYPE_HEADER:
            named = value.decode(errors="replace") if value is not None else ""
            return named in CATALOGUE and not accepts(record.topic, named)
    return False


#: Fetch settings for a consumer that may lag by a fraction of a second (read models): the broker answers a fetch
#: when 256 KiB are there or 250 ms have passed, not at the first record. Each fetch costs the broker a pass over
#: every partition of the consumer's fetch session, so a consumer of every topic that fetched at each record was
#: one of the broker's largest costs under load.
BACKGROUND_FETCH: dict[str, Any] = {"fetch.min.bytes": 262_144, "fetch.wait.max.ms": 250}


class ConsumerLoop:
    """Consume ``topics`` as ``group_id`` and apply ``handler`` (one record) or ``batch_handler`` (a batch).

    ``accepts`` lets a handler skip types it ignores without decoding them; ``wake_on_record`` ends a poll at
    the first record instead of waiting out ``poll_timeout`` (a float, or a callable asked before each poll)."""

    def __init__(
        self,
        settings: Settings,
        *,
        group_id: str,
        topics: Sequence[str],
        producer: EventProducer,
        handler: RecordHandler | None = None,
        batch_handler: BatchHandler | None = None,
        on_assign: AssignHook | None = None,
        offset_store: OffsetStore | None = None,
        before_commit: Callable[[], None] | None = None,
        tick: Callable[[], None] | None = None,
        on_abort: Callable[[], None] | None = None,
        max_batch: int = 500,
        poll_timeout: float | Callable[[], float] = 0.5,
        wake_on_record: bool = False,
        commit_in_background: bool = False,
        accepts: TypeFilter | None = None,
        max_attempts: int = 5,
        auto_offset_reset: str = "earliest",
        overrides: dict[str, Any] | None = None,
    ) -> None:
        if (handler is None) == (batch_handler is None):
            raise ValueError("give exactly one of handler or batch_handler")
        if offset_store is not None and not (producer.transactional and on_abort is not None):
            raise ValueError(
                "an offset store needs a transactional producer (positions commit with the batch) and an on_abort "
                "that reloads them as committed"
            )
        if commit_in_background and offset_store is None:
            raise ValueError("background commits need an offset store (positions commit with the batch's outputs)")
        self.group_id = group_id
        self.topics = list(topics)
        self._settings = settings
        self._producer = producer
        self._handler = handler
        self._batch_handler = batch_handler
        self._on_assign = on_assign
        self._offset_store = offset_store
        self._group_offsets_at = 0.0
        self._before_commit = before_commit
        self._tick = tick
        self._on_abort = on_abort
        self._max_batch = max_batch
        self._poll_timeout = poll_timeout
        self._wake_on_record = wake_on_record
        self._background = BackgroundCommit(producer) if commit_in_background else None
        # First offsets of the batches whose commit is in flight, and of those handled and held since: where to
        # re-read from if a commit fails. And the positions the commit in flight stores, for the group's copy.
        self._committing_from: dict[tuple[str, int], int] = {}
        self._held_from: dict[tuple[str, int], int] = {}
        self._committing_positions: dict[tuple[str, int], int] | None = None
        self._reread_after_revocation = False
        #: The first offsets of the batch being processed: where a batch whose dead letters failed is read again.
        self._batch_start: dict[tuple[str, int], int] = {}
        self._accepts = accepts
        self._max_attempts = max_attempts
        self._stop = threading.Event()
        self._last_lag_report = 0.0
        config = kafka_config(settings) | {
            "group.id": group_id,
            "client.id": group_id,  # names the service in the broker's request logs and quotas
            "enable.auto.commit": False,
            "auto.offset.reset": auto_offset_reset,
            "enable.partition.eof": False,
            "partition.assignment.strategy": "cooperative-sticky",
            "session.timeout.ms": 10_000,
            "max.poll.interval.ms": 300_000,
            "fetch.max.bytes": 52_428_800,
        }
        self._consumer = Consumer(config | (overrides or {}))

    # -- lifecycle -------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Finish the current batch, commit it and leave the group."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the loop gracefully (main thread only)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())

    def run(self) -> None:
        """Consume until ``stop``; always closes the consumer (leaving the group promptly)."""
        if self._background is not None:
            self._consumer.subscribe(self.topics, on_assign=self._assigned, on_revoke=self._revoked)
        else:
            self._consumer.subscribe(self.topics, on_assign=self._assigned)
        try:
            while not self._stop.is_set():
                self.poll_once()
        finally:
            try:
                if self._background is not None:
                    self._commit_held_now(self._background)
                    self._background.close()
            except Exception as exc:  # its records are read again after a restart, from the committed positions
                log.error("consumer %s: the last transaction did not commit: %r", self.group_id, exc)
            finally:
                self._consumer.close()

    def _assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self._offset_store is not None:
            stored = self._offset_store.positions()
            for tp in partitions:  # a partition never stored starts where the group committed, or auto.offset.reset
                tp.offset = stored.get((tp.topic, tp.partition), tp.offset)
        if self._on_assign is not None:
            positioned = self._on_assign(partitions)
            consumer.incremental_assign(positioned)
        else:
            consumer.incremental_assign(partitions)

    def _revoked(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Before partitions go, the commit in flight settles and what is held is given up (aborted if that commit
        failed): their next owner reads on from what was committed. This loop re-reads the rest from its stored
        positions at its next poll, dropping what that poll gathered (it may hold records of the partitions gone)."""
        if self._background is not None:
            self._background.settle()
            self._background.abort()
            self._reread_after_revocation = True
        consumer.incremental_unassign(partitions)

    def _commit_held_now(self, background: BackgroundCommit) -> None:
        """On stop: commit what is held and wait until that commit is through."""
        background.settle()
        if self._producer.holding or background.failure() is not None:
            self._in_transaction(lambda: None, None)
            background.settle()

    # -- one batch -------------------------------------------------------------------------------------------
    def _consume(self) -> list[Any]:
        """The next batch. librdkafka's ``consume(n, timeout)`` waits until ``n`` records or the timeout; with
        ``wake_on_record`` the wait ends at the first record the handler acts on, which comes back with whatever
        else is fetched already, so it waits for no timeout on the latency path (the timeout only paces idle
        ticks). Records ``accepts`` refuses (a service's own events echoed back) do not end the wait: they ride
        along with the next batch rather than each costing a commit."""
        timeout = self._poll_timeout() if callable(self._poll_timeout) else self._poll_timeout
        if self._background is not None and self._producer.holding:
            timeout = min(timeout, HELD_POLL_S)  # look back soon: the commit in flight ends any moment
        if not self._wake_on_record:
            return self._consumer.consume(self._max_batch, timeout)
        deadline = time.monotonic() + timeout
        batch: list[Any] = []
        while len(batch) < self._max_batch:
            first = self._consumer.consume(1, max(deadline - time.monotonic(), 0))
            if not first:
                break
            room = self._max_batch - len(batch) - 1
            got = first + self._consumer.consume(room, 0) if room > 0 else first
            batch += got
            if self._accepts is None or any(self._wakes(message) for message in got):
                break
        return batch

    def _wakes(self, message: Any) -> bool:
        """Whether a consumed message ends a ``wake_on_record`` wait (errors and poison do, as any record but
        one of a type the handler ignores)."""
        if message.error() is not None or self._accepts is None:
            return True
        for key, value in message.headers() or ():
            if key == TYPE_HEADER:
                named = value.decode(errors="replace") if value is not None else ""
                return named not in CATALOGUE or self._accepts(message.topic() or "", named)
        return True

    def poll_once(self) -> int:
        """Consume, handle and commit one batch; returns how many records it took."""
        messages = self._consume()
        if self._background is not None and self._reread_after_revocation:
            self._reread_after_revocation = False
            gathered = [Record.from_message(m) for m in messages if m.error() is None]
            self._reread_uncommitted(self._first_offsets(gathered))
            return 0
        records: list[Record] = []
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer %s: %s", self.group_id, err.str())
                continue
            records.append(Record.from_message(msg))
        if records:
            # Periodic work rides in the batch's transaction: one commit (one broker round trip) per poll.
            self._in_transaction(lambda: self._run_tick_then(records), records)
        elif self._tick is not None:
            self._in_transaction(self._run_tick_then, None)
        elif self._background is not None and (self._producer.holding or self._background.failure() is not None):
            # No batch came to commit what is held, or to raise a failed commit: do it now.
            self._in_transaction(lambda: None, None)
        self._report_lag()
        return len(records)

    def _run_tick_then(self, records: list[Record] | None = None) -> None:
        """Periodic work (heartbeats, due checks) in the loop's thread, then the batch's records if any."""
        if self._tick is not None:
            tick = self._tick
            self._run_with_retries([], lambda _: tick())
        if records:
            self._process(records)

    def _in_transaction(self, work: Callable[[], None], records: list[Record] | None) -> None:
        """Run ``work`` and make its effects durable, then move offsets (atomically when transactional)."""
        if self._background is not None:
            self._in_background_transaction(self._background, work, records)
            return
        if not self._producer.transactional:
            try:
                work()
            except Rewind as rewind:
                try:
                    self._producer.flush()
                except DeliveryError as exc:  # the batch is read again anyway
                    log.error("consumer %s: re-reading, with effects not acknowledged: %s", self.group_id, exc)
                self._seek(rewind.positions)
                return
            except ProducerQueueFull as exc:
                # A dead letter found no room for MAX_BLOCK_S (handlers' own publishes are retried in place, as
                # any transient error): read the batch again rather than end the loop.
                log.error("consumer %s: re-reading the batch: %s", self.group_id, exc)
                if records:
                    self._seek(self._first_offsets(records))
                return
            if records:
                self._make_durable_and_commit(records)
            else:
                if self._before_commit is not None:
                    self._before_commit()
            return
        if not self._begin(records):
            return
        try:
            work()
            offsets = self._next_offsets(records) if records else None
            if offsets and self._offset_store is not None:
                self._offset_store.store_positions(offsets)
                offsets = None
            if self._before_commit is not None:
                self._before_commit()
            self._producer.commit(offsets, self._consumer.consumer_group_metadata() if offsets else None)
            if records and self._offset_store is not None and self._group_offsets_due():
                self._commit_group_offsets(self._offset_store.positions())
        except Rewind as rewind:
            self._producer.abort()
            self._seek(rewind.positions)
        except Exception as exc:
            # Nothing of the batch is visible; re-read it (handlers are idempotent, state is reloaded as it was).
            log.error("consumer %s: transaction aborted, re-processing: %r", self.group_id, exc)
            self._producer.abort()
            if self._on_abort is not None:
                self._on_abort()
            if records:
                self._seek(self._resume_positions(records))

    def _in_background_transaction(
        self, background: BackgroundCommit, work: Callable[[], None], records: list[Record] | None
    ) -> None:
        """``_in_transaction`` with commits on a helper thread (``background_commit``): while one commits, the
        next batches are handled and held; the next transaction carries them all. A failure re-reads every batch
        not committed from the stored positions."""
        background.start_batch()
        for position, offset in (self._first_offsets(records) if records else {}).items():
            self._held_from[position] = min(self._held_from.get(position, offset), offset)
        try:
            work()
            if records and self._offset_store is not None:
                self._offset_store.store_positions(self._next_offsets(records))
            if self._before_commit is not None:
                self._before_commit()  # per batch, as without background commits: its records are held
            if background.in_flight():
                return  # held: goes with the next transaction, once the commit in flight is through
            while True:
                try:
                    background.commit()
                    break
                except CannotBegin as exc:
                    log.warning("consumer %s: cannot start a transaction yet, retrying: %s", self.group_id, exc)
                    if self._stop.wait(1.0):  # stopping: what is held is read again after a restart
                        self._producer.drop_held()
                        return
            self._handed_over()
        except Exception as exc:  # a Rewind too, whose positions are re-read with everything not committed
            self._abort_background(background, exc, exc.positions if isinstance(exc, Rewind) else {})

    def _handed_over(self) -> None:
        """A commit was handed over, so the one before it is through: its positions go to the group if due."""
        if self._committing_positions is not None:
            self._commit_group_offsets(self._committing_positions)
        self._committing_positions = (
            self._offset_store.positions() if self._offset_store is not None and self._group_offsets_due() else None
        )
        self._committing_from, self._held_from = self._held_from, {}

    def _abort_background(
        self, background: BackgroundCommit, exc: BaseException, also: dict[tuple[str, int], int]
    ) -> None:
        """Abort what is held and the commit in flight if it failed, then re-read what is not committed."""
        log.error("consumer %s: transaction aborted, re-processing: %r", self.group_id, exc)
        background.abort()
        self._reread_uncommitted(also)

    def _reread_uncommitted(self, also: dict[tuple[str, int], int]) -> None:
        """Reload the state as committed and seek every partition read since the last confirmed commit (and
        ``also``'s) to its stored position, or to its first offset read where none is stored."""
        if self._on_abort is not None:
            self._on_abort()
        unsettled = self._committing_from
        for position, offset in [*self._held_from.items(), *also.items()]:
            unsettled[position] = min(unsettled.get(position, offset), offset)
        self._committing_from, self._held_from, self._committing_positions = {}, {}, None
        self._seek(self._stored_or(unsettled))

    def _resume_positions(self, records: list[Record]) -> dict[tuple[str, int], int]:
        """Where to re-read an aborted batch's partitions: the stored positions as committed (reloaded by
        ``on_abort``), which are the batch's first offsets unless its commit went through after all."""
        return self._stored_or(self._first_offsets(records))

    def _stored_or(self, first: dict[tuple[str, int], int]) -> dict[tuple[str, int], int]:
        """Each partition's stored position (as committed), or its offset in ``first`` where none is stored."""
        stored = self._offset_store.positions() if self._offset_store is not None else {}
        return {position: stored.get(position, offset) for position, offset in first.items()}

    def _begin(self, records: list[Record] | None) -> bool:
        """Start the batch's transaction; when the producer cannot (its new client cannot reach the broker yet),
        put the batch back to be read again and wait a moment."""
        try:
            self._producer.begin()
            return True
        except KafkaException as exc:
            log.warning("consumer %s: cannot start a transaction yet, batch put back: %s", self.group_id, exc)
            if records:
                self._seek(self._first_offsets(records))
            self._stop.wait(1.0)
            return False

    def _group_offsets_due(self) -> bool:
        """Whether it is time to copy the stored positions to the group again (``GROUP_OFFSETS_EVERY_S``)."""
        return self._offset_store is not None and time.monotonic() - self._group_offsets_at >= GROUP_OFFSETS_EVERY_S

    def _commit_group_offsets(self, stored: dict[tuple[str, int], int]) -> None:
        """The stored positions (as committed) of the assigned partitions to the group too, for lag tools; never
        ahead of a committed transaction, since a partition never stored starts at the group's offset."""
        self._group_offsets_at = time.monotonic()
        try:
            assigned = self._consumer.assignment()
            offsets = [
                TopicPartition(tp.topic, tp.partition, stored[(tp.topic, tp.partition)])
                for tp in assigned
                if (tp.topic, tp.partition) in stored
            ]
            if offsets:
                self._consumer.commit(offsets=offsets, asynchronous=True)
        except Exception as exc:  # for monitoring only: never let it disturb the committed batch
            log.debug("consumer %s: group offsets not committed: %r", self.group_id, exc)

    def _seek(self, positions: dict[tuple[str, int], int]) -> None:
        _seek_assigned(self._consumer, self.group_id, positions)

    @staticmethod
    def _first_offsets(records: list[Record]) -> dict[tuple[str, int], int]:
        first: dict[tuple[str, int], int] = {}
        for r in records:
            first[(r.topic, r.partition)] = min(first.get((r.topic, r.partition), r.offset), r.offset)
        return first

    @staticmethod
    def _next_offsets(records: list[Record]) -> list[TopicPartition]:
        latest: dict[tuple[str, int], int] = {}
        for r in records:
            latest[(r.topic, r.partition)] = max(latest.get((r.topic, r.partition), -1), r.offset)
        return [TopicPartition(t, p, o + 1) for (t, p), o in latest.items()]

    def _process(self, records: list[Record]) -> None:
        self._batch_start = self._first_offsets(records)
        deliveries, dead_lettered = self._decode_all(records)
        if dead_lettered:
            self._dead_letters_acknowledged()
        if deliveries or self._batch_handler is not None:
            self._handle(deliveries, records)

    def _decode_all(self, records: list[Record]) -> tuple[list[Delivery], int]:
        """The batch's records the handler takes, decoded; and how many were dead-lettered."""
        deliveries: list[Delivery] = []
        dead_lettered = 0
        for record in records:
            if self._accepts is not None and _refused(record, self._accepts):
                continue  # a type the handler ignores: not decoded (its offset is committed with the batch)
            try:
                envelope = decode(record.value, record.key, max_bytes=self._settings.max_event_bytes)
            except DecodeError as exc:
                self._dead_letter(record, exc.reason, exc.message)
                dead_lettered += 1
                continue
            deliveries.append(Delivery(envelope, record))
        return deliveries, dead_lettered

    def _dead_letter(self, record: Record, reason: str, error: str) -> None:
        log.warning("dead-lettering %s[%d]@%d: %s: %s", record.topic, record.partition, record.offset, reason, error)
        dead_letter(self._producer, record, reason=reason, error=error, group=self.group_id)

    def _dead_letters_acknowledged(self) -> None:
        """Wait for the dead letters just sent (of records the decoder or the handler rejected) before handling
        goes on, unless they are part of a transaction (they commit with it, or not at all).

        Outside a transaction a handler may store positions of its own past a rejected record (the projector keeps
        them in Postgres with its rows): were the process killed before the producer sent the dead letter, the
        record would be lost without one. A dead letter that is not acknowledged re-reads the whole batch (the
        failed flush may have reported the failures of other effects of the batch too)."""
        if self._producer.transactional:
            return
        try:
            self._producer.flush()
        except DeliveryError as exc:
            log.error("consumer %s: dead letters not acknowledged, re-reading the batch: %s", self.group_id, exc)
            raise Rewind(self._batch_start) from exc

    def _handle(self, deliveries: list[Delivery], records: list[Record]) -> None:
        if self._batch_handler is not None:
            self._run_with_retries(deliveries, lambda ds: self._apply_batch(ds, records))
        else:
            for delivery in deliveries:
                self._run_with_retries([delivery], self._apply_one)

    def _apply_one(self, deliveries: Sequence[Delivery]) -> None:
        assert self._handler is not None
        delivery = deliveries[0]
        envelope, record = delivery.envelope, delivery.record
        started = time.perf_counter()
        with tracing.consume_span(
            record.topic,
            record.headers,
            f"process {envelope.type}",
            envelope=envelope,
        ):
            self._handler(delivery)
        HANDLER_SECONDS.labels(self.group_id, envelope.type).observe(time.perf_counter() - started)
        EVENTS_CONSUMED.labels(self.group_id, record.topic, envelope.type).inc()

    def _apply_batch(self, deliveries: Sequence[Delivery], records: Sequence[Record]) -> None:
        assert self._batch_handler is not None
        started = time.perf_counter()
        self._batch_handler(deliveries, records)
        HANDLER_SECONDS.labels(self.group_id, "batch").observe(time.perf_counter() - started)
        for delivery in deliveries:
            EVENTS_CONSUMED.labels(self.group_id, delivery.record.topic, delivery.envelope.type).inc()

    def _run_with_retries(self, deliveries: Sequence[Delivery], apply: Callable[[Sequence[Delivery]], None]) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                apply(deliveries)
                return
            except RejectRecord as exc:
                self._reject(deliveries, apply, exc.reason, str(exc))
                return
            except Rewind:
                raise
            except Exception as exc:
                HANDLER_RETRIES.labels(self.group_id).inc()
                if is_transient(exc):
                    if self._stop.is_set():
                        raise
                    log.warning("consumer %s: transient error, retrying batch: %s", self.group_id, exc)
                    time.sleep(min(0.2 * 2 ** min(attempt, 5), 5.0))
                    continue
                if attempt < self._max_attempts:
                    log.warning("consumer %s: handler failed (attempt %d): %r", self.group_id, attempt, exc)
                    time.sleep(0.05 * attempt)
                    continue
                self._reject(deliveries, apply, "handler_error", f"{type(exc).__name__}: {exc}")
                return

    def _reject(
        self,
        deliveries: Sequence[Delivery],
        apply: Callable[[Sequence[Delivery]], None],
        reason: str,
        error: str,
    ) -> None:
        if len(deliveries) == 1:
            record = deliveries[0].record
            log.error(
                "dead-lettering %s[%d]@%d after handler failure: %s",
                record.topic,
                record.partition,
                record.offset,
                error,
            )
            dead_letter(self._producer, record, reason=reason, error=error, group=self.group_id)
            self._dead_letters_acknowledged()
            return
        # A batch failed for good: apply its records one by one so only the poison one is dead-lettered.
        for delivery in deliveries:
            if self._batch_handler is not None:
                self._run_with_retries([delivery], lambda ds: self._apply_batch(ds, [ds[0].record]))
            else:
                self._run_with_retries([delivery], apply)

    def _make_durable_and_commit(self, records: list[Record]) -> None:
        """Effects first (events and dead letters acknowledged by Kafka), offsets second."""
        try:
            if self._before_commit is not None:
                self._before_commit()
            self._producer.flush()
        except DeliveryError as exc:
            # Not committing is the safe side: rewind so the batch is redelivered; handlers are idempotent.
            log.error("consumer %s: effects not durable, re-processing the batch: %s", self.group_id, exc)
            self._seek(self._first_offsets(records))
            return
        try:
            self._consumer.commit(offsets=self._next_offsets(records), asynchronous=False)
        except KafkaException as exc:
            # A rebalance may have revoked the partition; the new owner re-processes idempotently.
            log.warning("consumer %s: commit failed: %s", self.group_id, exc)

    def _report_lag(self) -> None:
        now = time.monotonic()
        if now - self._last_lag_report < 5.0:
            return
        self._last_lag_report = now
        try:
            assigned = self._consumer.assignment()
            positions = self._consumer.position(assigned) if assigned else []
        except KafkaException:
            return
        for tp in positions:
            try:
                _, high = self._consumer.get_watermark_offsets(tp, cached=True)
            except KafkaException:
                continue
            position = tp.offset if tp.offset >= 0 and tp.offset != OFFSET_STORED else 0
            CONSUMER_LAG.labels(self.group_id, tp.topic, str(tp.partition)).set(max(high - position, 0))

    def lag(self) -> int:
        """Total lag over the assigned partitions, fresh from the broker."""
        total = 0
        assigned = self._consumer.assignment()
        for tp in self._consumer.position(assigned) if assigned else []:
            _, high = self._consumer.get_watermark_offsets(tp, timeout=5.0, cached=False)
            total += max(high - max(tp.offset, 0), 0)
        return total


RawBatchHandler = Callable[[Sequence[Record]], None]
#: Why a raw record is bad input, as (dead-letter reason, error), or None for a good one.
RawRecordCheck = Callable[[Record], tuple[str, str] | None]


class RawConsumerLoop(ConsumerLoop):
    """The same loop for a topic whose records are not envelopes (the dead-letter topic, the CRDT state topic).

    Records reach the handler as they are; a handler error is retried like any other, and since dead-lettering
    a dead letter would loop, a record the handler rejects for good is logged and skipped, counted as such.
    ``check`` (where the topic has a shape to check) finds bad records before the handler runs: each is
    dead-lettered once per batch, however often the handler is retried, and the handler must skip it.
    """

    def __init__(
        self, settings: Settings, *, raw_handler: RawBatchHandler, check: RawRecordCheck | None = None, **kwargs: Any
    ) -> None:
        super().__init__(settings, batch_handler=lambda _deliveries, _records: None, **kwargs)
        self._raw_handler = raw_handler
        self._check = check

    def _process(self, records: list[Record]) -> None:
        self._batch_start = self._first_offsets(records)
        if self._check is not None:
            self._dead_letter_bad(records, self._check)
        attempt = 0
        while True:
            attempt += 1
            try:
                self._raw_handler(records)
                return
            except Exception as exc:
                HANDLER_RETRIES.labels(self.group_id).inc()
                if is_transient(exc) and not self._stop.is_set():
                    time.sleep(min(0.2 * 2 ** min(attempt, 5), 5.0))
                    continue
                if attempt < self._max_attempts:
                    time.sleep(0.05 * attempt)
                    continue
                log.error(
                    "consumer %s: skipping %d raw record(s) after %d attempts: %r",
                    self.group_id,
                    len(records),
                    attempt,
                    exc,
                )
                EVENTS_CONSUMED.labels(self.group_id, records[0].topic, "rejected").inc(len(records))
                return

    def _dead_letter_bad(self, records: list[Record], check: RawRecordCheck) -> None:
        dead_lettered = 0
        for record in records:
            try:
                verdict = check(record)
            except Exception as exc:  # a check that breaks on a record finds it bad rather than end the loop
                verdict = ("check_error", f"{type(exc).__name__}: {exc}")
            if verdict is None:
                continue
            self._dead_letter(record, *verdict)
            dead_lettered += 1
        if dead_lettered:
            self._dead_letters_acknowledged()
