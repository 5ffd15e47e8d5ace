"""A replica's records of an object reach the topic in the order their states were made.

The topic is compacted by key, so if an older state were produced after a newer one, a replica starting after
compaction would find the older. Two threads update the same counter; the first is held inside the producer
until the second has had every chance to overtake it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from shared.crdt.g_counter import GCounter
from shared.crdt.replica import Replica
from shared.crdt.replication import decode_state
from shared.settings import Settings

HELD_S = 0.5


class GatedProducer:
    """Records what it is given; the first record is held until ``release`` is set (or ``HELD_S`` passes)."""

    def __init__(self) -> None:
        self.values: list[int] = []
        self.holding = threading.Event()
        self.release = threading.Event()

    def publish_raw(self, topic: str, key: bytes, value: bytes, *, event_type: str) -> None:
        if not self.holding.is_set():
            self.holding.set()
            self.release.wait(HELD_S)
        self.values.append(decode_state(value)[2].value)

    def flush(self) -> None:
        pass


def raise_by(amount: int) -> Callable[[GCounter | None], GCounter]:
    """A change for ``Replica.update``."""
    return lambda counter: (counter or GCounter()).increment("rt/1", amount)


def run_racing_updates(defer: bool) -> tuple[GatedProducer, Replica]:
    producer = GatedProducer()
    replica = Replica(Settings(), "rt/1", producer=producer)  # type: ignore[arg-type]

    def first() -> None:
        replica.update("n", raise_by(1), defer=defer)
        if defer:
            replica.publish_pending()

    def second() -> None:
        producer.holding.wait(5)
        replica.update("n", raise_by(10), defer=defer)
        if defer:
            replica.publish_pending()
        producer.release.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return producer, replica


def test_updates_of_one_object_are_produced_in_the_order_they_were_made() -> None:
    producer, replica = run_racing_updates(defer=False)
    assert producer.values == [1, 11]
    assert replica.get("n").value == 11


def test_deferred_updates_publish_the_latest_state_last() -> None:
    producer, replica = run_racing_updates(defer=True)
    assert producer.values[-1] == 11
    assert replica.get("n").value == 11
