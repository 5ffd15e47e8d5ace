"""A producer whose local queue stays full (brokers away) waits a bounded time for room, then says so; it used to
wait forever, holding whatever lock its caller held (a CRDT replica's, stalling its readers)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from shared.bus import producer as producer_module
from shared.bus.producer import EventProducer, ProducerQueueFull
from shared.bus.topics import STATE_CRDT
from shared.crdt.g_counter import GCounter
from shared.crdt.replica import MAX_PUBLISH_ATTEMPTS, Replica
from shared.settings import Settings


class FullQueue:
    """Stands for librdkafka's producer: its queue is full until ``room_after`` polls have served reports."""

    def __init__(self, room_after: int | None) -> None:
        self.room_after, self.polls, self.produced = room_after, 0, 0

    def produce(self, topic: str, **_: Any) -> None:
        if self.room_after is None or self.polls < self.room_after:
            raise BufferError("Local: Queue full")
        self.produced += 1

    def poll(self, timeout: float) -> int:
        if timeout:  # serving reports, as librdkafka would for up to ``timeout``
            self.polls += 1
            time.sleep(0.01)
        return 0

    def __len__(self) -> int:
        return 100_000


def producer_over(queue: FullQueue, monkeypatch: pytest.MonkeyPatch) -> EventProducer:
    monkeypatch.setattr(producer_module, "MAX_BLOCK_S", 0.3)
    producer = EventProducer(Settings(), client_id="test")
    producer._plain = queue  # type: ignore[assignment]
    return producer


def test_a_queue_that_frees_up_takes_the_record(monkeypatch: pytest.MonkeyPatch) -> None:
    queue = FullQueue(room_after=3)
    producer_over(queue, monkeypatch).publish_raw(STATE_CRDT, b"k", b"v")
    assert queue.produced == 1 and queue.polls == 3


def test_a_queue_that_stays_full_raises_a_clear_error_after_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    queue = FullQueue(room_after=None)
    started = time.monotonic()
    with pytest.raises(ProducerQueueFull, match=r"architect\.state\.crdt: the producer's queue stayed full for 0s"):
        producer_over(queue, monkeypatch).publish_raw(STATE_CRDT, b"k", b"v")
    assert 0.3 <= time.monotonic() - started < 5
    assert queue.produced == 0 and queue.polls > 1


def test_a_replica_update_the_producer_refused_stays_pending_and_goes_out_with_the_next_flush(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queue = FullQueue(room_after=None)
    producer = producer_over(queue, monkeypatch)
    replica = Replica(Settings(), "rt/1", producer=producer)
    with pytest.raises(ProducerQueueFull):
        replica.update("done", lambda c: (c or GCounter()).increment("rt/1"), flush=False)
    assert replica.get("done").value == 1, "the view keeps the change"
    queue.room_after = 0
    assert replica.publish_pending() == 1 and queue.produced == 1


def test_deferred_states_wait_out_a_full_queue_however_long_and_go_out_once_there_is_room(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A full queue refuses no object in particular: nothing is counted towards dropping it, and each call waits
    once (not once per object) while holding the replica's lock."""
    queue = FullQueue(room_after=None)
    replica = Replica(Settings(), "rt/1", producer=producer_over(queue, monkeypatch))
    for name in ("a", "b", "c"):
        replica.update(name, lambda c: (c or GCounter()).increment("rt/1"), defer=True)
    for _ in range(MAX_PUBLISH_ATTEMPTS + 2):
        started = time.monotonic()
        with pytest.raises(ProducerQueueFull):
            replica.publish_pending()
        assert time.monotonic() - started < 2 * producer_module.MAX_BLOCK_S
    queue.room_after = 0
    assert replica.publish_pending() == 3 and queue.produced == 3
