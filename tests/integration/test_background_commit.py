"""A transactional loop that commits in the background (``commit_in_background``, as the assigner runs): each batch
is handled while the previous one commits, outputs reach the log in order and once, and a failed commit sends
the loop back to its stored positions with nothing of the failed batch, or of the one after it, visible."""

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


def copying_service(settings: Settings, producer: EventProducer | None = None) -> tuple[CopyingService, str, str]:
    """A copying service on new source and output topics (with a transactional producer of its own unless given),
    and the two topics."""
    if producer is None:
        group = unique("bg")
        producer = EventProducer(settings, client_id=group, transactional_id=group)
    source, output = create_topic(settings, unique("test.source")), create_topic(settings, unique("test.copies"))
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
