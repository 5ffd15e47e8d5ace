"""A transactional loop that commits in the background (``commit_in_background``, as the assigner runs): each batch
is handled while the previous one commits, outputs reach the log in order and once, and a failed commit sends
the loop back to its stored positions with nothing of the failed batch, or of the one after it, visible. A real
rebalance (a second member joining the group and leaving) moves a partition away and back with every record
committed once and nothing of it committed by the loop while the other member owns it."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from shared.bus.client_config import kafka_config
from shared.bus.consumer import ConsumerLoop, Delivery
from shared.bus.producer import EventProducer
from shared.bus.state_positions import OFFSETS_PREFIX, StatePositions
from shared.bus.state_store import CompactedState
from shared.events.catalogue.goals import SubmitGoal
from shared.events.codec import new_event
from shared.settings import Settings
from tests.conftest import unique
from tests.integration.kafka_helpers import create_topic, running, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


class OneOddCommit(EventProducer):
    """A transactional producer whose ``at``-th commit takes ``delay_s`` longer and then, if ``fails``, fails (the
    transaction stays open, as after a commit the broker refused): the batches after it are handled meanwhile."""

    def __init__(self, settings: Settings, group: str, *, at: int, delay_s: float, fails: bool) -> None:
        super().__init__(settings, client_id=group, transactional_id=f"{group}-txn")
        self.at, self.delay_s, self.fails, self.commits = at, delay_s, fails, 0
        self.odd = threading.Event()

    def commit(self, offsets: list[object] | None = None, group_metadata: object = None) -> None:
        self.commits += 1
        if self.commits == self.at:
            self.odd.set()
            time.sleep(self.delay_s)
            if self.fails:
                raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "injected: the commit failed"))
        super().commit(offsets, group_metadata)


class CopyingService:
    """Copies each record to ``output`` and keeps its positions in a compacted state topic, as the assigner does."""

    def __init__(self, settings: Settings, producer: EventProducer, source: str, output: str) -> None:
        self.output = output
        self.producer = producer
        self.state = CompactedState(settings, create_topic(settings, unique("test.state")), producer)
        self.offsets = StatePositions(self.state)
        self.handled: list[str] = []
        self.loop = ConsumerLoop(
            settings,
            group_id=unique("loop"),
            topics=[source],
            producer=producer,
            batch_handler=self.handle,
            offset_store=self.offsets,
            before_commit=self.state.flush,
            on_abort=self.state.load,
            wake_on_record=True,
            commit_in_background=True,
        )

    def handle(self, deliveries: Sequence[Delivery], _records: object) -> None:
        for delivery in deliveries:
            self.handled.append(delivery.envelope.stream_id)
            self.producer.publish_raw(self.output, delivery.record.key, delivery.record.value)


def copying_service(
    settings: Settings, producer: EventProducer | None = None, *, partitions: int = 1
) -> tuple[CopyingService, str, str]:
    """A copying service on new source (``partitions``) and output topics (with a transactional producer of its own
    unless given), and the two topics."""
    if producer is None:
        group = unique("bg")
        producer = EventProducer(settings, client_id=group, transactional_id=group)
    source = create_topic(settings, unique("test.source"), partitions)
    output = create_topic(settings, unique("test.copies"))
    return CopyingService(settings, producer, source, output), source, output


def publish_goals(producer: EventProducer, topic: str, count: int) -> list[str]:
    ids = [unique("g") for _ in range(count)]
    for goal_id in ids:
        producer.publish(
            new_event(
                SubmitGoal(goal_id=goal_id, goal_type="fix_bug"),
                producer="test",
                stream_id=goal_id,
                correlation_id=goal_id,
            ),
            topic=topic,
        )
    producer.flush()
    return ids


def committed_copies(settings: Settings, topic: str, expected: int) -> list[str]:
    """The stream ids of ``topic``'s committed records, once ``expected`` are there (read_committed)."""
    consumer = Consumer(
        kafka_config(settings)
        | {
            "group.id": f"probe-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    keys: list[str] = []
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            for message in consumer.consume(100, 0.5):
                if message.error() is None:
                    keys.append(message.key().decode())
            if len(keys) >= expected:
                time.sleep(1)  # anything beyond (a duplicate) would be committed by now
                keys += [m.key().decode() for m in consumer.consume(100, 1) if m.error() is None]
                return keys
    finally:
        consumer.close()
    raise AssertionError(f"{len(keys)} of {expected} copies committed on {topic}")


def test_batches_are_handled_while_the_previous_commits_and_every_output_is_committed_once_in_order(
    settings: Settings, producer: EventProducer
) -> None:
    service, source, output = copying_service(settings)
    published: list[str] = []
    with running(service.loop):
        for _ in range(8):  # bursts, so that batches follow each other while commits are in flight
            published += publish_goals(producer, source, 5)
            time.sleep(0.02)
        wait_for(lambda: len(service.handled) == 40, message="every record handled")
    assert service.handled == published
    assert committed_copies(settings, output, 40) == published
    reloaded = CompactedState(settings, service.state._topic, producer)
    reloaded.load()
    assert reloaded.get(f"{OFFSETS_PREFIX}{source}:0") == {"next": 40}


def test_a_failed_commit_is_re_read_with_the_batch_handled_after_it_and_nothing_of_either_is_visible(
    settings: Settings, producer: EventProducer
) -> None:
    failing = OneOddCommit(settings, unique("bg"), at=2, delay_s=1.0, fails=True)
    service, source, output = copying_service(settings, failing)
    with running(service.loop):
        first = publish_goals(producer, source, 5)
        wait_for(lambda: failing.commits == 1 and len(service.handled) == 5, message="the first batch committing")
        second = publish_goals(producer, source, 5)
        wait_for(failing.odd.is_set, message="the second batch's commit under way")
        third = publish_goals(producer, source, 5)  # handled while the second commit is still in flight
        copies = committed_copies(settings, output, 15)
    assert copies == first + second + third
    assert service.handled[:10] == first + second
    handled_meanwhile = service.handled[10:-10]
    assert handled_meanwhile and set(handled_meanwhile) <= set(third)
    assert service.handled[-10:] == second + third  # re-read from the failed batch on
    assert service.offsets.positions() == {(source, 0): 15}


def test_background_commits_need_an_offset_store(settings: Settings) -> None:
    transactional = EventProducer(settings, client_id="tests-bg", transactional_id=unique("bg-txn"))
    with pytest.raises(ValueError, match="offset store"):
        ConsumerLoop(
            settings,
            group_id=unique("loop"),
            topics=["architect.goals.commands"],
            producer=transactional,
            handler=lambda _d: None,
            commit_in_background=True,
        )


def test_group_offsets_copy_only_positions_already_committed(
    settings: Settings, producer: EventProducer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For lag tools the loop copies its stored positions to the group, but only those of batches whose commit is
    through: a partition never stored starts at the group's offset, which must not skip an uncommitted batch."""
    monkeypatch.setattr("shared.bus.consumer.GROUP_OFFSETS_EVERY_S", 0.0)
    service, source, output = copying_service(settings)
    probe = Consumer(kafka_config(settings) | {"group.id": service.loop.group_id})

    def group_offset() -> int:
        [committed] = probe.committed([TopicPartition(source, 0)], timeout=10)
        return committed.offset

    try:
        with running(service.loop):
            publish_goals(producer, source, 5)
            wait_for(lambda: len(service.handled) == 5, message="the first batch")
            publish_goals(producer, source, 3)
            wait_for(lambda: len(service.handled) == 8, message="the second batch")
            wait_for(lambda: group_offset() == 5, message="the first batch's position copied to the group")
            time.sleep(1)
            assert group_offset() == 5  # the second batch's commit was in flight when the copy was taken
            publish_goals(producer, source, 1)
            wait_for(lambda: group_offset() == 8, message="the second batch's position, once its commit was through")
    finally:
        probe.close()
    assert committed_copies(settings, output, 9)[-1] == service.handled[-1]


def test_flushing_while_records_are_held_is_refused(settings: Settings) -> None:
    transactional = EventProducer(settings, client_id="tests-held", transactional_id=unique("held-txn"))
    transactional.hold()
    transactional.publish_raw("architect.goals.commands", b"k", b"{}")
    with pytest.raises(RuntimeError, match="held"):
        transactional.flush(1)
    transactional.drop_held()


def test_batches_handled_during_a_slow_commit_go_together_in_the_next_transaction(
    settings: Settings, producer: EventProducer
) -> None:
    slow = OneOddCommit(settings, unique("bg"), at=1, delay_s=1.5, fails=False)
    service, source, output = copying_service(settings, slow)
    with running(service.loop):
        published = publish_goals(producer, source, 2)
        wait_for(slow.odd.is_set, message="the first commit under way")
        for _ in range(3):  # three batches while it lasts
            published += publish_goals(producer, source, 2)
            time.sleep(0.2)
        assert len(service.handled) == 8 and slow.commits == 1, "the batches were handled during the slow commit"
        copies = committed_copies(settings, output, 8)
    assert copies == published == service.handled
    assert slow.commits == 2, "the three held batches went in one transaction"
    assert service.offsets.positions() == {(source, 0): 8}


COMMIT_DELAY_S = 1.0


class SlowCommits(EventProducer):
    """A transactional producer each of whose commits takes ``delay_s`` longer: batches are nearly always held
    while one is in flight."""

    def __init__(self, settings: Settings, group: str, delay_s: float) -> None:
        super().__init__(settings, client_id=group, transactional_id=f"{group}-txn")
        self.delay_s = delay_s

    def commit(self, offsets: list[object] | None = None, group_metadata: object = None) -> None:
        time.sleep(self.delay_s)
        super().commit(offsets, group_metadata)


def last_stable_offset(settings: Settings, topic: str) -> int:
    """The end of ``topic``'s decided records (partition 0): what a read_committed consumer reads up to."""
    consumer = Consumer(kafka_config(settings) | {"group.id": unique("lso"), "isolation.level": "read_committed"})
    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10, cached=False)[1]
    finally:
        consumer.close()


class Newcomer:
    """A plain member that joins ``group`` (so a real rebalance takes a partition from the loop), keeps what it is
    given without reading a record or committing anything, and leaves on ``close``. ``owned`` is the range of
    ``output``'s offsets committed while it held the partition: between the output's last stable offset when the
    partition came to it and when it leaves."""

    def __init__(self, settings: Settings, group: str, topic: str, output: str) -> None:
        self.settings, self.output = settings, output
        self.assigned: list[int] = []
        self.owned: tuple[int, int] | None = None
        self._consumer = Consumer(
            kafka_config(settings)
            | {
                "group.id": group,
                "partition.assignment.strategy": "cooperative-sticky",
                "enable.auto.commit": False,
                "session.timeout.ms": 10_000,
                "heartbeat.interval.ms": 100,  # learns of the second rebalance at once, not up to 3 s later
            }
        )
        self._consumer.subscribe([topic], on_assign=self._on_assign)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="newcomer", daemon=True)
        self._thread.start()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if partitions and not self.assigned:
            self.owned = (last_stable_offset(self.settings, self.output), -1)
        self.assigned += [tp.partition for tp in partitions]
        consumer.incremental_assign(partitions)
        consumer.pause(partitions)  # holds them: what the loop gave up stays unread until they come back

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._consumer.poll(0.1)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        if self.owned is not None:
            self.owned = (self.owned[0], last_stable_offset(self.settings, self.output))
        self._consumer.close()  # leaves the group: the partitions go back to the loop


def source_order(settings: Settings, topic: str, partitions: int) -> dict[int, list[str]]:
    """Each partition's keys, in offset order."""
    consumer = Consumer(kafka_config(settings) | {"group.id": unique("probe"), "enable.partition.eof": True})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    keys: dict[int, list[str]] = {p: [] for p in range(partitions)}
    at_end: set[int] = set()
    try:
        while len(at_end) < partitions:
            for message in consumer.consume(500, 1):
                if message.error() is not None:
                    if message.error().code() == KafkaError._PARTITION_EOF:
                        at_end.add(message.partition())
                    continue
                keys[message.partition()].append(message.key().decode())
    finally:
        consumer.close()
    return keys


def committed_between(settings: Settings, topic: str, start: int, end: int) -> list[str]:
    """The keys of ``topic``'s committed records (partition 0) at offsets ``start`` to ``end`` (exclusive)."""
    consumer = Consumer(kafka_config(settings) | {"group.id": unique("probe"), "isolation.level": "read_committed"})
    consumer.assign([TopicPartition(topic, 0, start)])
    keys: list[str] = []
    try:
        while True:
            messages = consumer.consume(500, 2)
            for message in messages:
                if message.error() is None and message.offset() < end:
                    keys.append(message.key().decode())
            if not messages or any(m.error() is None and m.offset() >= end - 1 for m in messages):
                return keys
    finally:
        consumer.close()


def test_a_real_rebalance_moves_a_partition_away_and_back_and_every_record_is_committed_once_in_order(
    settings: Settings, producer: EventProducer
) -> None:
    """A second member joins the loop's group mid-stream and leaves again; records keep arriving throughout.

    When cooperative-sticky takes a partition from the loop, the loop's commit in flight settles and what it holds
    (commits are slowed down, so there is always something) is given up: nothing of that partition is committed
    while the other member owns it (that member would read on from the stored positions, and the two would copy
    the same records). When the partition comes back, the loop seeks to its stored position. In the end the output
    holds each record exactly once, in each partition's order. Without the revocation's settle-and-abort, the held
    records of the taken partition are committed while the other member owns it, and the test fails."""
    partitions = 2
    slow = SlowCommits(settings, unique("bg"), COMMIT_DELAY_S)  # the revocation finds a commit in flight, batches held
    service, source, output = copying_service(settings, slow, partitions=partitions)
    published: list[str] = []
    publishing = threading.Event()

    def publish_steadily() -> None:
        while not publishing.is_set():
            published.extend(publish_goals(producer, source, 4))
            time.sleep(0.03)

    publisher = threading.Thread(target=publish_steadily, name="publisher")
    with running(service.loop):
        publisher.start()
        try:
            wait_for(lambda: len(service.handled) >= 20, message="the loop copying")
            newcomer = Newcomer(settings, service.loop.group_id, source, output)
            try:
                wait_for(lambda: bool(newcomer.assigned), message="the newcomer given a partition by a rebalance")
                owned_from = newcomer.owned[0] if newcomer.owned else 0
                wait_for(
                    lambda: last_stable_offset(settings, output) > owned_from,
                    message="the loop committing its other partition's records (after re-reading what it held)",
                )
                time.sleep(2 * COMMIT_DELAY_S)  # a late commit of the taken partition's records would show by now
            finally:
                newcomer.close()
            time.sleep(1)  # records keep coming while the partition comes back
        finally:
            publishing.set()
            publisher.join(10)
        wait_for(lambda: set(service.handled) >= set(published), timeout=60, message="every record handled")
        copies = committed_copies(settings, output, len(published))
    assert len(copies) == len(published) == len(set(published)), "each record committed once"
    assert set(copies) == set(published)
    order = source_order(settings, source, partitions)
    taken = set(order[newcomer.assigned[0]])
    assert taken, "the partition taken away had records"
    assert newcomer.owned is not None
    while_owned = committed_between(settings, output, *newcomer.owned)
    assert while_owned, "the loop went on copying its other partition meanwhile"
    assert not taken & set(while_owned), "nothing of the taken partition committed while another member owned it"
    for keys in order.values():
        assert [key for key in copies if key in set(keys)] == keys
    assert service.offsets.positions() == {(source, p): len(keys) for p, keys in order.items()}
