"""A replica of the shared CRDT state that any service or agent runtime can hold.

``Replica`` follows ``architect.state.crdt`` from its beginning in a background thread (no consumer group:
every replica reads everything) and merges each state into a :class:`MergedView`. ``update(name, change)``
applies a change to this replica's copy (the merged view, so it never goes back) and publishes it under
``<name>/<replica id>``. Merges are joins, so whatever order records arrive in, every replica converges.

A record is a whole state, so a busy writer may coalesce: ``update(..., defer=True)`` changes the view at once
and ``publish_pending()`` publishes each changed object's latest state once (an agent runtime does so per poll
instead of per task). ``objects=`` (name prefixes) makes a replica that needs only some objects skip the
others' records undecoded; once caught up, a replica skips its own records too (its view has them already).

Ordering: a state is produced while the lock that made it is still held, so this replica's records of an object
reach the partition in the order their states were made. The topic is compacted by key, so an older state
written after a newer one (two threads updating the same object) would be the one a new replica finds once
the newer is compacted away. Producing only queues the record in librdkafka; the wait for acks (``flush``) is
outside the lock.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from shared.bus.client_config import kafka_config
from shared.bus.producer import EventProducer, ProducerQueueFull
from shared.bus.reader import end_offsets
from shared.bus.topics import STATE_CRDT
from shared.crdt.failure_streaks import FailureStreaks
from shared.crdt.replication import BadCrdtRecord, MergedView, encode_state
from shared.settings import Settings

log = logging.getLogger(__name__)
#: Calls of ``publish_pending`` in a row an object's state may be refused before it stops being retried.
MAX_PUBLISH_ATTEMPTS = 5
#: After a consumer error, how long the follower waits before following on with a new consumer.
REFOLLOW_S = 5.0
T = TypeVar("T")


class Replica:
    """This process's replica of every replicated object; thread-safe."""

    def __init__(
        self,
        settings: Settings,
        replica_id: str,
        *,
        producer: EventProducer | None = None,
        topic: str = STATE_CRDT,
        objects: tuple[str, ...] | None = None,
    ) -> None:
        self.replica_id = replica_id
        self.topic = topic
        self._prefixes = tuple(prefix.encode() for prefix in objects) if objects is not None else None
        self._own_suffix = f"/{replica_id}".encode()
        self._pending: set[str] = set()
        #: Calls in a row in which the producer refused an object's state (see ``publish_pending``).
        self._refusals = FailureStreaks(MAX_PUBLISH_ATTEMPTS)
        self._settings = settings
        self._own_producer = producer is None
        self._producer = producer or EventProducer(settings, client_id=f"crdt-{replica_id}")
        self._view = MergedView()
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._partitions: list[int] = []
        self._caught_up = threading.Event()
        self.records_merged = 0

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> Replica:
        """Start following the topic from its beginning."""
        consumer = self._new_consumer()
        try:
            partitions = consumer.list_topics(self.topic, timeout=30).topics[self.topic].partitions
            if not partitions:
                log.warning(
                    "replica %s: %s has no partitions (not created?): nothing to follow", self.replica_id, self.topic
                )
            highs = {p: high for (_, p), (low, high) in end_offsets(consumer, [self.topic]).items() if high > low}
            self._partitions = sorted(partitions)
            self._assign(consumer, {})
        except BaseException:
            consumer.close()
            raise
        if not highs:
            self._caught_up.set()
        self._thread = threading.Thread(
            target=self._follow, args=(consumer, highs), name=f"crdt-{self.replica_id}", daemon=True
        )
        self._thread.start()
        return self

    def _new_consumer(self) -> Consumer:
        return Consumer(
            kafka_config(self._settings)
            | {
                "group.id": f"architect-crdt-{uuid.uuid4()}",
                "client.id": f"crdt-{self.replica_id}",
                "enable.auto.commit": False,
                "enable.partition.eof": False,
                # A position no longer on the log (truncated, topic made anew) reads from its start: a join again.
                "auto.offset.reset": "earliest",
            }
        )

    def _consumer_at(self, positions: dict[int, int]) -> Consumer:
        """A new consumer of the topic's partitions, each at ``positions`` (its beginning where none is given)."""
        consumer = self._new_consumer()
        try:
            self._assign(consumer, positions)
        except BaseException:
            consumer.close()
            raise
        return consumer

    def _assign(self, consumer: Consumer, positions: dict[int, int]) -> None:
        consumer.assign([TopicPartition(self.topic, p, positions.get(p, OFFSET_BEGINNING)) for p in self._partitions])

    @property
    def alive(self) -> bool:
        """Started and not closed: its follower thread runs (a consumer error makes it follow on with a new
        consumer ``REFOLLOW_S`` later, from where it was, so only a bug in this class ends it early)."""
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)
        if self._own_producer:
            self._producer.close()

    def __enter__(self) -> Replica:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- reading and writing -----------------------------------------------------------------------------------
    def get(self, name: str) -> Any:
        """The merged state of object ``name`` (None until some replica wrote it)."""
        with self._lock:
            return self._view.get(name)

    def update(self, name: str, change: Callable[[Any], Any], *, flush: bool = True, defer: bool = False) -> Any:
        """Apply ``change`` (current merged state or None -> new state) and publish the result.

        ``defer``: only mark the object changed; ``publish_pending`` (or ``flush``) publishes its state then. A state
        the producer refuses (say a queue full for ``MAX_BLOCK_S``) stays pending for them, and the error is raised."""
        with self._lock:
            state = change(self._view.get(name))
            merged = self._view.merge(name, self.replica_id, state)
            self._lock.notify_all()
            if defer:
                self._pending.add(name)
                return merged
            self._pending.discard(name)
            key, value = encode_state(name, self.replica_id, merged)
            try:
                self._producer.publish_raw(self.topic, key, value, event_type="crdt")  # see "Ordering" above
            except Exception:
                self._pending.add(name)  # the view has it: the next publish_pending or flush sends it
                raise
        if flush:
            self._producer.flush()
        return merged

    def publish_pending(self) -> int:
        """Publish the latest state of each object changed by deferred updates (not waiting for acks).

        An object the producer refuses stays pending (the next call publishes its state then) while the others go
        on, up to ``MAX_PUBLISH_ATTEMPTS`` calls in a row; then it is dropped from the pending set with an error
        (its state stays in this replica's view and goes out with its next change). The first refusal is raised
        once every object was tried. A producer whose queue stayed full (``ProducerQueueFull``) refuses no object in
        particular: that object and the ones after it stay pending, however long it lasts."""
        with self._lock:  # produced under the lock: see "Ordering" above
            if not self._pending:
                return 0
            names = sorted(self._pending)
            self._pending.clear()
            refused: list[str] = []
            first_error: Exception | None = None
            for index, name in enumerate(names):
                try:  # an object whose state cannot be encoded is refused too, without dropping the others
                    key, value = encode_state(name, self.replica_id, self._view.get(name))
                    self._producer.publish_raw(self.topic, key, value, event_type="crdt")
                except ProducerQueueFull as error:
                    # Full for every object (brokers away): the rest wait for the next call, none counted refused,
                    # and the lock is not held for another MAX_BLOCK_S per object.
                    self._pending.update(names[index:])
                    first_error = first_error or error
                    break
                except Exception as error:
                    refused.append(name)
                    first_error = first_error or error
                else:
                    self._refusals.succeeded(name)
            if first_error is None:
                return len(names)
            for name in refused:
                retry, refusals = self._refusals.failed(name)
                if retry:
                    self._pending.add(name)
                else:
                    log.error(
                        "replica %s: %s refused %d times, not published until it changes",
                        self.replica_id,
                        name,
                        refusals,
                    )
        raise first_error

    def flush(self) -> None:
        """Publish what deferred updates changed, and wait until every published state is acknowledged."""
        self.publish_pending()
        self._producer.flush()

    def wait_caught_up(self, timeout_s: float = 60.0) -> bool:
        """Block until everything on the topic when ``start`` was called has been merged (True), or timeout.

        Call it before the first ``update`` of a counter this replica wrote before a restart: an update made
        before its own earlier state is merged back would publish a lower entry.
        """
        return self._caught_up.wait(timeout_s)

    def wait_until(self, name: str, check: Callable[[Any], T | None], timeout_s: float = 30.0) -> T:
        """Block until ``check(state of name)`` is truthy; returns it. ``TimeoutError`` otherwise."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while True:
                state = self._view.get(name)
                found = check(state) if state is not None else None
                if found:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"replica {self.replica_id}: {name} did not reach the expected state")
                self._lock.wait(min(left, 0.5))

    # -- the follower thread -----------------------------------------------------------------------------------
    def _follow(self, consumer: Consumer | None, highs: dict[int, int]) -> None:
        """Merge every record until closed; after a consumer error, follow on from the next offsets with a new
        consumer (records are states and merging is a join, so one read twice does no harm)."""
        positions: dict[int, int] = {}  # per partition, the next offset to read
        while not self._stopping.is_set():
            try:
                consumer = consumer or self._consumer_at(positions)
                self._merge_until_stopped(consumer, highs, positions)
            except Exception:
                log.exception(
                    "replica %s: following %s failed; following on in %.0fs", self.replica_id, self.topic, REFOLLOW_S
                )
            finally:
                if consumer is not None:
                    consumer.close()
                    consumer = None
            self._stopping.wait(REFOLLOW_S)  # returns at once when it stopped because closed

    def _merge_until_stopped(self, consumer: Consumer, highs: dict[int, int], positions: dict[int, int]) -> None:
        while not self._stopping.is_set():
            messages = consumer.consume(500, 0.2)
            caught_up = self._caught_up.is_set()
            with self._lock:
                for message in messages:
                    if self._failed(message):
                        continue
                    positions[message.partition()] = message.offset() + 1
                    if message.value() is None or self._skips(message, caught_up):
                        continue
                    try:
                        self._view.merge_record(message.value())
                        self.records_merged += 1
                    except BadCrdtRecord as error:
                        log.warning("replica %s: skipping a record: %s", self.replica_id, error)
                self._lock.notify_all()
            if not self._caught_up.is_set():
                self._check_caught_up(consumer, highs, positions, idle=not messages)

    def _failed(self, message: Message) -> bool:
        """An error in place of a record: logged (end of partition aside); a fatal one raises, to follow on anew."""
        error = message.error()
        if error is None:
            return False
        if error.fatal():
            raise KafkaException(error)
        if error.code() != KafkaError._PARTITION_EOF:
            log.warning("replica %s: %s", self.replica_id, error.str())
        return True

    def _skips(self, message: Message, caught_up: bool) -> bool:
        """A record of an object this replica does not follow, or (once caught up) its own state echoed back."""
        key = message.key() or b""
        if self._prefixes is not None and key and not key.startswith(self._prefixes):
            return True
        return caught_up and key.endswith(self._own_suffix)

    def _check_caught_up(
        self, consumer: Consumer, highs: dict[int, int], positions: dict[int, int], *, idle: bool
    ) -> None:
        """Caught up once each partition's position reached its start-time end (or its last record before a
        transaction marker, when a poll found nothing more). The consumer's own positions also count what it
        read past without returning (markers, aborted records), and ``positions`` what an earlier consumer read
        (a new one has no position on a partition until it returns a record there)."""
        slack = 1 if idle else 0
        for tp in consumer.position([TopicPartition(self.topic, p) for p in highs]):
            if tp.offset >= 0:  # not a logical offset (none yet: -1001)
                positions[tp.partition] = max(positions.get(tp.partition, 0), tp.offset)
        if all(positions.get(p, -1) >= high - slack for p, high in highs.items()):
            self._caught_up.set()
