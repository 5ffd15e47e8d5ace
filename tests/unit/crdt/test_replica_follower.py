"""A replica's follower thread skips records it cannot merge, whatever is wrong with them, and a consumer error
that ends it is logged and seen from outside (``alive``), never a silent freeze of the view."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
from confluent_kafka import KafkaError, KafkaException

from shared.crdt.g_counter import GCounter
from shared.crdt.replica import Replica
from shared.crdt.replication import encode_state
from shared.settings import Settings


class Message:
    def __init__(self, key: bytes, value: bytes) -> None:
        self._key, self._value = key, value

    def error(self) -> None:
        return None

    def key(self) -> bytes:
        return self._key

    def value(self) -> bytes:
        return self._value


class ScriptedConsumer:
    """Hands out one batch per ``consume``, then raises ``KafkaException`` (a fatal error) once they are used up."""

    def __init__(self, batches: list[list[Message]]) -> None:
        self._batches: Iterator[list[Message]] = iter(batches)
        self.closed = threading.Event()

    def consume(self, _count: int, _timeout: float) -> list[Message]:
        batch = next(self._batches, None)
        if batch is None:
            raise KafkaException(KafkaError(KafkaError._FATAL, "fenced"))
        return batch

    def close(self) -> None:
        self.closed.set()


def state(name: str, replica_id: str, amount: int) -> Message:
    key, value = encode_state(name, replica_id, GCounter().increment(replica_id, amount))
    return Message(key, value)


def follow(replica: Replica, consumer: ScriptedConsumer) -> None:
    replica._caught_up.set()  # the thread as ``start`` leaves it, without a broker
    replica._thread = threading.Thread(target=replica._follow, args=(consumer, {}), daemon=True)
    replica._thread.start()


def test_records_of_the_wrong_shape_are_skipped_and_the_states_around_them_merged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    poison = [
        Message(b"done/x", b'{"object": "done", "replica": "x", "type": "GCounter", "state": 5}'),
        Message(b"done/y", b'{"object": "done", "replica": "y", "type": "GCounter", "state": {"counts": [1]}}'),
        Message(b"done/z", b"\xff not json"),
    ]
    consumer = ScriptedConsumer([[state("done", "a", 2), *poison], [state("done", "b", 3)]])
    replica = Replica(Settings(), "me", producer=object())  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="shared.crdt.replica"):
        follow(replica, consumer)
        assert consumer.closed.wait(5), "the follower thread did not end on the fatal consumer error"
        replica._thread.join(5)

    assert replica.get("done").value == 5, "the states before and after the bad ones were merged"
    assert replica.records_merged == 2
    assert sum("skipping a record" in r.getMessage() for r in caplog.records) == 3


def test_a_consumer_error_that_ends_the_follower_is_logged_and_the_replica_no_longer_alive(
    caplog: pytest.LogCaptureFixture,
) -> None:
    replica = Replica(Settings(), "me", producer=object())  # type: ignore[arg-type]
    assert not replica.alive, "not started"
    consumer = ScriptedConsumer([[state("done", "a", 1)]])
    with caplog.at_level(logging.ERROR, logger="shared.crdt.replica"):
        follow(replica, consumer)
        replica._thread.join(5)

    assert not replica.alive and consumer.closed.is_set()
    assert any("stopped following" in r.getMessage() and r.exc_info for r in caplog.records)
    assert replica.get("done").value == 1
