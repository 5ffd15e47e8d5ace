"""The confluent-kafka consumer loop: decode and validate, dead-letter bad records, retry handlers,
commit only after effects are durable, stop gracefully, count everything in metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from prometheus_client import REGISTRY

from shared.bus.client_config import kafka_config
from shared.bus.consumer import ConsumerLoop, Delivery, OffsetStore, RejectRecord
from shared.bus.producer import DeliveryError, EventProducer
from shared.events.catalogue.goals import CancelGoal, SubmitGoal
from shared.events.codec import encode, new_event
from shared.settings import Settings
from tests.conftest import unique
from tests.integration.kafka_helpers import create_topic, dead_letters_from, running, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def goal(goal_id: str) -> object:
    return new_event(
        SubmitGoal(goal_id=goal_id, goal_type="fix_bug"), producer="test", stream_id=goal_id, correlation_id=goal_id
    )


def poison_records(valid: bytes) -> dict[str, tuple[bytes | None, bytes | None]]:
    """(key, value) of a bad record per rejection reason."""
    raw = json.loads(valid)
    wrong_schema = dict(raw, payload={"goal_type": 7})
    unknown = dict(raw, type="LaunchRockets")
    return {
        "not_json": (b"k", b"\xff\xfe definitely not json"),
        "schema_invalid": (raw["stream_id"].encode(), json.dumps(wrong_schema).encode()),
        "unknown_type": (raw["stream_id"].encode(), json.dumps(unknown).encode()),
        "oversized": (b"k", b'{"pad": "' + b"x" * 1_100_000 + b'"}'),
        "wrong_key": (b"not-the-stream", valid),
    }


def test_bad_records_are_dead_lettered_with_reason_and_source_and_the_loop_keeps_going(
    settings: Settings, producer: EventProducer
) -> None:
    topic = create_topic(settings, unique("test.loop"), config={"max.message.bytes": "2000000"})
    group = unique("loop")
    first, last = goal(unique("g")), goal(unique("g"))
    producer.publish(first, topic=topic)
    for key, value in poison_records(encode(first)).values():
        producer.publish_raw(topic, key, value)
    producer.publish(last, topic=topic)
    producer.flush()

    handled: list[str] = []
    loop = ConsumerLoop(
        settings,
        group_id=group,
        topics=[topic],
        producer=producer,
        handler=lambda d: handled.append(d.envelope.stream_id),
    )
    with running(loop):
        wait_for(lambda: len(handled) == 2, message="both valid events")
    assert handled == [first.stream_id, last.stream_id]

    letters = dead_letters_from(settings, group)
    assert sorted(d.reason for d in letters) == sorted(poison_records(encode(first)))
    for letter in letters:
        assert letter.source_topic == topic and letter.source_partition == 0
        assert letter.error
    by_reason = {d.reason: d for d in letters}
    assert by_reason["not_json"].value == b"\xff\xfe definitely not json"
    assert by_reason["not_json"].source_offset == 1
    assert by_reason["wrong_key"].key == b"not-the-stream"
    dead = REGISTRY.get_sample_value(
        "architect_events_dead_lettered_total", {"group": group, "topic": topic, "reason": "unknown_type"}
    )
    consumed = REGISTRY.get_sample_value(
        "architect_events_consumed_total", {"group": group, "topic": topic, "type": "SubmitGoal"}
    )
    assert dead == 1 and consumed == 2


def test_a_handler_that_fails_once_is_retried_and_its_record_handled_once(
    settings: Settings, producer: EventProducer
) -> None:
    topic = create_topic(settings, unique("test.loop"))
    producer.publish(goal(unique("g")), topic=topic)
    producer.flush()
    calls: list[int] = []

    def flaky(_: Delivery) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first attempt fails")

    loop = ConsumerLoop(settings, group_id=unique("loop"), topics=[topic], producer=producer, handler=flaky)
    with running(loop):
        wait_for(lambda: len(calls) == 2, message="the retry")
        time.sleep(1)
    assert len(calls) == 2


def test_a_handler_that_keeps_failing_dead_letters_the_record_and_moves_on(
    settings: Settings, producer: EventProducer
) -> None:
    topic = create_topic(settings, unique("test.loop"))
    group = unique("loop")
    poison, fine = goal(unique("poison")), goal(unique("fine"))
    producer.publish(poison, topic=topic)
    producer.publish(fine, topic=topic)
    producer.flush()
    handled: list[str] = []

    def handler(d: Delivery) -> None:
        if d.envelope.stream_id == poison.stream_id:
            raise ValueError("cannot handle this one")
        handled.append(d.envelope.stream_id)

    loop = ConsumerLoop(settings, group_id=group, topics=[topic], producer=producer, handler=handler, max_attempts=3)
    with running(loop):
        wait_for(lambda: handled == [fine.stream_id], message="the healthy record")
    [letter] = dead_letters_from(settings, group)
    assert letter.reason == "handler_error" and "cannot handle this one" in letter.error
    assert letter.value == encode(poison)


def test_a_handler_can_reject_a_record_for_good(settings: Settings, producer: EventProducer) -> None:
    topic = create_topic(settings, unique("test.loop"))
    group = unique("loop")
    producer.publish(goal(unique("g")), topic=topic)
    producer.flush()

    def refuse(_: Delivery) -> None:
        raise RejectRecord("forbidden", "agent a2 may not report for a1's task")

    loop = ConsumerLoop(settings, group_id=group, topics=[topic], producer=producer, handler=refuse)
    with running(loop):
        wait_for(lambda: len(dead_letters_from(settings, group)) == 1, message="the rejection")
    assert dead_letters_from(settings, group)[0].reason == "forbidden"


def topic_with_goals(settings: Settings, producer: EventProducer, count: int) -> tuple[str, str]:
    """A new topic holding ``count`` SubmitGoal events, and a new group name to read it with."""
    topic = create_topic(settings, unique("test.loop"))
    for _ in range(count):
        producer.publish(goal(unique("g")), topic=topic)
    producer.flush()
    return topic, unique("loop")


def test_offsets_are_committed_after_the_batch_so_a_new_member_resumes_after_it(
    settings: Settings, producer: EventProducer
) -> None:
    topic, group = topic_with_goals(settings, producer, 5)
    handled: list[str] = []
    loop = ConsumerLoop(
        settings,
        group_id=group,
        topics=[topic],
        producer=producer,
        handler=lambda d: handled.append(d.envelope.stream_id),
    )
    with running(loop):
        wait_for(lambda: len(handled) == 5, message="five events")
    probe = Consumer(kafka_config(settings) | {"group.id": group})
    [committed] = probe.committed([TopicPartition(topic, 0)], timeout=10)
    probe.close()
    assert committed.offset == 5

    producer.publish(goal(unique("g")), topic=topic)
    producer.flush()
    again: list[str] = []
    second = ConsumerLoop(
        settings,
        group_id=group,
        topics=[topic],
        producer=producer,
        handler=lambda d: again.append(d.envelope.stream_id),
    )
    with running(second):
        wait_for(lambda: len(again) == 1, message="the new event")
        time.sleep(1)
    assert len(again) == 1, "a restarted member re-processed committed records"


class PositionsInState:
    """An ``OffsetStore`` as a service keeps it in its state (here in memory, shared by the two loops)."""

    def __init__(self) -> None:
        self.stored: dict[tuple[str, int], int] = {}

    def positions(self) -> dict[tuple[str, int], int]:
        return dict(self.stored)

    def store_positions(self, offsets: Sequence[TopicPartition]) -> None:
        self.stored.update({(tp.topic, tp.partition): tp.offset for tp in offsets})


def test_a_loop_with_an_offset_store_stores_each_batch_s_positions_and_resumes_there_not_at_the_group_s(
    settings: Settings, producer: EventProducer
) -> None:
    topic, group = topic_with_goals(settings, producer, 5)
    store: OffsetStore = PositionsInState()
    handled: list[str] = []

    def loop(into: list[str]) -> ConsumerLoop:
        transactional = EventProducer(settings, client_id=group, transactional_id=f"{group}-txn")
        return ConsumerLoop(
            settings,
            group_id=group,
            topics=[topic],
            producer=transactional,
            handler=lambda d: into.append(d.envelope.stream_id),
            offset_store=store,
            on_abort=lambda: None,  # nothing to reload: no transaction of this test aborts
            wake_on_record=True,
        )

    with running(loop(handled)):
        wait_for(lambda: store.positions().get((topic, 0)) == 5, message="the positions stored")
    assert len(handled) == 5

    # The group says 5, the stored state says 3 (as if it were restored from before the last two records):
    # the loop resumes at 3, re-reading two records, then the new one.
    probe = Consumer(kafka_config(settings) | {"group.id": group})
    probe.commit(offsets=[TopicPartition(topic, 0, 5)], asynchronous=False)
    probe.close()
    store.store_positions([TopicPartition(topic, 0, 3)])
    late = goal(unique("g"))
    producer.publish(late, topic=topic)
    producer.flush()
    again: list[str] = []
    with running(loop(again)):
        wait_for(lambda: len(again) == 3, message="two records again and the new one")
        time.sleep(1)
    assert again == [*handled[3:], late.stream_id]
    assert store.positions()[(topic, 0)] == 6


def test_a_partition_the_store_never_stored_starts_at_the_group_s_committed_offset(settings: Settings) -> None:
    """As on the first start after upgrading from group offsets: stored positions win where there are some."""
    topic, group = create_topic(settings, unique("test.loop"), partitions=2), unique("loop")
    to_partitions = Producer(kafka_config(settings))
    for partition in (0, 1):
        for _ in range(4):
            event = goal(unique("g"))
            to_partitions.produce(topic, encode(event), event.stream_id.encode(), partition=partition)
    assert to_partitions.flush(30) == 0
    probe = Consumer(kafka_config(settings) | {"group.id": group})
    probe.commit(offsets=[TopicPartition(topic, 0, 3), TopicPartition(topic, 1, 2)], asynchronous=False)
    probe.close()
    store = PositionsInState()
    store.store_positions([TopicPartition(topic, 0, 1)])  # partition 1 never stored
    handled: list[tuple[int, int]] = []
    transactional = EventProducer(settings, client_id=group, transactional_id=f"{group}-txn")
    loop = ConsumerLoop(
        settings,
        group_id=group,
        topics=[topic],
        producer=transactional,
        handler=lambda d: handled.append((d.record.partition, d.record.offset)),
        offset_store=store,
        on_abort=lambda: None,  # nothing to reload: no transaction of this test aborts
        wake_on_record=True,
    )
    with running(loop):
        wait_for(lambda: len(handled) == 5, message="three records of partition 0 and two of partition 1")
        time.sleep(1)
    assert sorted(handled) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3)]
    assert store.positions() == {(topic, 0): 4, (topic, 1): 4}


def test_an_offset_store_needs_a_transactional_producer_and_a_reload_on_abort(
    settings: Settings, producer: EventProducer
) -> None:
    transactional = EventProducer(settings, client_id="tests-store", transactional_id=unique("store-txn"))
    for plain, reload in ((producer, lambda: None), (transactional, None)):
        with pytest.raises(ValueError, match=r"transactional producer .* on_abort"):
            ConsumerLoop(
                settings,
                group_id=unique("loop"),
                topics=["architect.goals.commands"],
                producer=plain,
                handler=lambda _d: None,
                offset_store=PositionsInState(),
                on_abort=reload,
            )


def test_types_the_handler_ignores_are_skipped_undecoded_and_committed_and_headerless_poison_still_dead_lettered(
    settings: Settings, producer: EventProducer
) -> None:
    topic = create_topic(settings, unique("test.loop"))
    group = unique("loop")
    wanted, cancelled = goal(unique("g")), cancel(unique("g"))
    producer.publish(wanted, topic=topic)
    producer.publish(cancelled, topic=topic)
    # A body that would fail to decode, behind a header naming an ignored type: never read, so no dead letter.
    producer.publish_raw(topic, b"k", b"not json", [("architect-type", b"CancelGoal")])
    producer.publish_raw(topic, b"k", b"not json either")  # no header: decoded, dead-lettered
    producer.flush()
    handled: list[str] = []
    loop = ConsumerLoop(
        settings,
        group_id=group,
        topics=[topic],
        producer=producer,
        handler=lambda d: handled.append(d.envelope.type),
        accepts=lambda _topic, event_type: event_type != "CancelGoal",
        wake_on_record=True,
    )
    with running(loop):
        wait_for(lambda: committed(settings, group, topic) == 4, message="all four records committed")
    assert handled == ["SubmitGoal"]
    assert [d.reason for d in dead_letters_from(settings, group)] == ["not_json"]


def test_wake_on_record_ends_a_long_poll_at_the_first_record(settings: Settings, producer: EventProducer) -> None:
    topic = create_topic(settings, unique("test.loop"))
    handled_at: list[float] = []
    loop = ConsumerLoop(
        settings,
        group_id=unique("loop"),
        topics=[topic],
        producer=producer,
        handler=lambda _d: handled_at.append(time.monotonic()),
        poll_timeout=lambda: 5.0,
        wake_on_record=True,
    )
    with running(loop):
        time.sleep(3)  # joined and waiting in a 5 s poll
        delays = []
        for _ in range(3):
            sent = time.monotonic()
            producer.publish(goal(unique("g")), topic=topic)
            producer.flush()
            wait_for(lambda n=len(delays) + 1: len(handled_at) == n, message="the record")
            delays.append(handled_at[-1] - sent)
    assert max(delays) < 1.0, delays


def cancel(goal_id: str) -> object:
    return new_event(CancelGoal(goal_id=goal_id), producer="test", stream_id=goal_id, correlation_id=goal_id)


def committed(settings: Settings, group: str, topic: str) -> int:
    probe = Consumer(kafka_config(settings) | {"group.id": group})
    try:
        [position] = probe.committed([TopicPartition(topic, 0)], timeout=10)
        return position.offset
    finally:
        probe.close()


def test_delivery_errors_are_surfaced_on_flush(settings: Settings) -> None:
    topic = create_topic(settings, unique("test.small"), config={"max.message.bytes": "1000"})
    producer = EventProducer(settings, client_id="tests-small")
    producer.publish_raw(topic, b"k", os.urandom(5000))  # random: compression cannot shrink it
    with pytest.raises(DeliveryError, match=topic):
        producer.flush(30)


def test_sigterm_stops_a_service_gracefully(settings: Settings) -> None:
    script = (
        "import sys\n"
        "from shared.settings import Settings\n"
        "from shared.bus.consumer import ConsumerLoop\n"
        "from shared.bus.producer import EventProducer\n"
        f"s = Settings(kafka_bootstrap_servers={settings.kafka_bootstrap_servers!r})\n"
        "p = EventProducer(s, client_id='sigterm')\n"
        "loop = ConsumerLoop(s, group_id='sigterm-test', topics=['architect.goals.commands'], producer=p,\n"
        "                    handler=lambda d: None)\n"
        "loop.install_signal_handlers()\n"
        "print('ready', flush=True)\n"
        "loop.run()\n"
        "p.close()\n"
        "print('stopped cleanly', flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(3)
    proc.terminate()
    out, _ = proc.communicate(timeout=40)
    assert proc.returncode == 0
    assert "stopped cleanly" in out
