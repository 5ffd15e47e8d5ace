"""A replica's deferred updates survive a producer that refuses some of them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from confluent_kafka import KafkaError, KafkaException

import shared.crdt.replica as replica_module
from shared.crdt.g_counter import GCounter
from shared.crdt.replica import MAX_PUBLISH_ATTEMPTS, Replica
from shared.crdt.replication import decode_state
from shared.settings import Settings


class RefusingProducer:
    """Takes records, except those of the objects in ``refuse`` (``refuse_once``: only the first time)."""

    def __init__(self, refuse: set[str], *, refuse_once: bool) -> None:
        self.refuse, self.refuse_once = refuse, refuse_once
        self.taken: list[str] = []

    def publish_raw(self, topic: str, key: bytes, value: bytes, *, event_type: str) -> None:
        name = decode_state(value)[0]
        if name in self.refuse:
            if self.refuse_once:
                self.refuse.discard(name)
            raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
        self.taken.append(name)


def counted(replica_id: str, amount: int) -> Callable[[GCounter | None], GCounter]:
    """A change for ``Replica.update``: the counter with ``replica_id``'s entry raised by ``amount``."""
    return lambda counter: (counter or GCounter()).increment(replica_id, amount)


def replica_with(producer: RefusingProducer) -> Replica:
    replica = Replica(Settings(), "rt/1", producer=producer)  # type: ignore[arg-type]
    for name in ("a", "b", "c"):
        replica.update(name, counted("rt/1", 1), defer=True)
    return replica


def test_an_object_refused_once_is_published_by_the_next_call_and_the_others_at_once() -> None:
    producer = RefusingProducer({"b"}, refuse_once=True)
    replica = replica_with(producer)
    with pytest.raises(KafkaException):
        replica.publish_pending()
    assert producer.taken == ["a", "c"]
    assert replica.publish_pending() == 1
    assert producer.taken == ["a", "c", "b"]
    assert replica.publish_pending() == 0


def test_an_object_always_refused_does_not_hold_back_the_others_and_is_dropped_after_the_last_attempt() -> None:
    producer = RefusingProducer({"b"}, refuse_once=False)
    replica = replica_with(producer)
    for _ in range(MAX_PUBLISH_ATTEMPTS):
        with pytest.raises(KafkaException):
            replica.publish_pending()
        replica.update("c", counted("rt/1", 1), defer=True)
    assert producer.taken == ["a"] + ["c"] * MAX_PUBLISH_ATTEMPTS
    assert replica.publish_pending() == 1  # c's latest change; b is no longer retried
    assert replica.publish_pending() == 0


def test_a_retried_object_carries_its_latest_state() -> None:
    producer = RefusingProducer({"b"}, refuse_once=True)
    replica = replica_with(producer)
    with pytest.raises(KafkaException):
        replica.publish_pending()
    replica.update("b", counted("rt/1", 4), defer=True)
    sent: list[int] = []
    original = producer.publish_raw

    def record(topic: str, key: bytes, value: bytes, *, event_type: str) -> None:
        sent.append(decode_state(value)[2].value)
        original(topic, key, value, event_type=event_type)

    producer.publish_raw = record  # type: ignore[method-assign]
    assert replica.publish_pending() == 1
    assert sent == [5]


def test_an_object_whose_state_cannot_be_encoded_does_not_drop_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    producer = RefusingProducer(set(), refuse_once=False)
    replica = replica_with(producer)
    real_encode = replica_module.encode_state

    def encode_refusing_b(name: str, replica_id: str, state: object) -> tuple[bytes, bytes]:
        if name == "b":
            raise TypeError("not encodable")
        return real_encode(name, replica_id, state)

    monkeypatch.setattr(replica_module, "encode_state", encode_refusing_b)
    with pytest.raises(TypeError):
        replica.publish_pending()
    assert producer.taken == ["a", "c"]
    monkeypatch.setattr(replica_module, "encode_state", real_encode)
    assert replica.publish_pending() == 1 and producer.taken == ["a", "c", "b"]
