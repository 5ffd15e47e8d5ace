"""A replica's follower thread skips records it cannot merge, whatever is wrong with them, and after a consumer
error it follows on with a new consumer from where it was: never a silent freeze of the view."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

import shared.crdt.replica as replica_module
from shared.crdt.g_counter import GCounter
from shared.crdt.replica import Replica
from shared.crdt.replication import encode_state
from shared.settings import Settings


class Message:
    def __init__(self, key: bytes, value: bytes | None, offset: int = 0, partition: int = 0) -> None:
        self._key, self._value, self._offset, self._partition = key, value, offset, partition

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def error(self) -> None:
        return None

    def key(self) -> bytes:
        return self._key

    def value(self) -> bytes | None:
        return self._value


class FatalMessage:
    """What ``consume`` returns in place of a record for a fatal consumer error."""

    def error(self) -> KafkaError:
        return KafkaError(KafkaError._FATAL, "fenced", fatal=True)


class ScriptedConsumer:
    """Hands out one batch per ``consume``; once they are used up, raises ``KafkaException`` (a fatal error), or
    with ``then_idle`` finds nothing more. ``position`` is librdkafka's: after the last record it returned on a
    partition, and ``OFFSET_INVALID`` (-1001) on one where it returned none."""

    def __init__(self, batches: list[list[Message | FatalMessage]], *, then_idle: bool = False) -> None:
        self._batches: Iterator[list[Message | FatalMessage]] = iter(batches)
        self.then_idle = then_idle
        self.returned: dict[int, int] = {}
        self.closed = threading.Event()

    def consume(self, _count: int, timeout: float) -> list[Message | FatalMessage]:
        batch = next(self._batches, None)
        if batch is None and self.then_idle:
            time.sleep(timeout)
            return []
        if batch is None:
            raise KafkaException(KafkaError(KafkaError._FATAL, "fenced"))
        for message in batch:
            if isinstance(message, Message):
                self.returned[message.partition()] = message.offset() + 1
        return batch

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition, self.returned.get(tp.partition, -1001)) for tp in partitions]

    def close(self) -> None:
        self.closed.set()


def state(name: str, replica_id: str, amount: int, offset: int = 0, partition: int = 0) -> Message:
    key, value = encode_state(name, replica_id, GCounter().increment(replica_id, amount))
    return Message(key, value, offset, partition)


def follow(replica: Replica, consumer: ScriptedConsumer, highs: dict[int, int] | None = None) -> None:
    """Run the follower thread as ``start`` leaves it, without a broker: caught up unless ``highs`` is given."""
    if highs is None:
        replica._caught_up.set()
    replica._partitions = sorted(highs or {0: 0})
    replica._thread = threading.Thread(target=replica._follow, args=(consumer, highs or {}), daemon=True)
    replica._thread.start()


def test_records_of_the_wrong_shape_are_skipped_and_the_states_around_them_merged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    poison = [
        Message(b"done/x", b'{"object": "done", "replica": "x", "type": "GCounter", "state": 5}', 1),
        Message(b"done/y", b'{"object": "done", "replica": "y", "type": "GCounter", "state": {"counts": [1]}}', 2),
        Message(b"done/z", b"\xff not json", 3),
    ]
    consumer = ScriptedConsumer([[state("done", "a", 2, 0), *poison], [state("done", "b", 3, 4)]], then_idle=True)
    replica = Replica(Settings(), "me", producer=object())  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="shared.crdt.replica"):
        follow(replica, consumer)
        wait_for(lambda: replica.records_merged == 2)
        replica.close()

    assert replica.get("done").value == 5, "the states before and after the bad ones were merged"
    assert sum("skipping a record" in r.getMessage() for r in caplog.records) == 3
    assert not replica.alive and consumer.closed.is_set()


def test_after_a_consumer_error_the_follower_follows_on_from_where_it_was_with_a_new_consumer(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(replica_module, "REFOLLOW_S", 0.05)
    replica = Replica(Settings(), "me", producer=object())  # type: ignore[arg-type]
    assert not replica.alive, "not started"
    tombstone = Message(b"done/gone", None, 2)  # read, not merged: the next consumer starts after it all the same
    first = ScriptedConsumer([[state("done", "a", 1, 0), state("done", "a", 2, 1), tombstone]])
    second = ScriptedConsumer([[state("done", "b", 3, 3)]], then_idle=True)
    asked_at: list[dict[int, int]] = []
    monkeypatch.setattr(replica, "_consumer_at", lambda positions: asked_at.append(dict(positions)) or second)
    with caplog.at_level(logging.ERROR, logger="shared.crdt.replica"):
        follow(replica, first)
        wait_for(lambda: replica.records_merged == 3)
        assert replica.alive and first.closed.is_set()
        replica.close()

    assert asked_at == [{0: 3}], "the new consumer starts after the last record read"
    assert replica.get("done").value == 5 and second.closed.is_set() and not replica.alive
    assert any("following architect.state.crdt failed" in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_fatal_error_before_catching_up_follows_on_and_still_catches_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """The error comes as a message, after partition 0 was read to its end and before partition 1 was. The new
    consumer returns nothing more on partition 0, so librdkafka gives it no position there: what the first consumer
    read must count, or the replica never reports caught up (and the assigner never uses the leases)."""
    monkeypatch.setattr(replica_module, "REFOLLOW_S", 0.05)
    replica = Replica(Settings(), "me", producer=object())  # type: ignore[arg-type]
    first = ScriptedConsumer(
        [[state("done", "a", 1, 0, 0), state("done", "a", 2, 1, 0)], [FatalMessage()]], then_idle=True
    )
    second = ScriptedConsumer([[state("done", "b", 3, 0, 1), state("done", "b", 4, 1, 1)]], then_idle=True)
    asked_at: list[dict[int, int]] = []
    monkeypatch.setattr(replica, "_consumer_at", lambda positions: asked_at.append(dict(positions)) or second)
    follow(replica, first, highs={0: 2, 1: 2})
    try:
        assert replica.wait_caught_up(5), "never caught up after following on"
    finally:
        replica.close()
    assert asked_at == [{0: 2}] and replica.get("done").value == 6


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)
