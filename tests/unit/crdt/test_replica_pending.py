"""A replica's deferred updates survive a producer that fails partway through publishing them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shared.crdt.g_counter import GCounter
from shared.crdt.replica import Replica
from shared.crdt.replication import decode_state
from shared.settings import Settings


class FailingOnceProducer:
    """Takes records, except that the ``fail_at``-th call raises (as a full local queue does)."""

    def __init__(self, fail_at: int) -> None:
        self.fail_at = fail_at
        self.calls = 0
        self.taken: list[tuple[bytes, bytes]] = []

    def publish_raw(self, topic: str, key: bytes, value: bytes, *, event_type: str) -> None:
        self.calls += 1
        if self.calls == self.fail_at:
            raise BufferError("Local: Queue full")
        self.taken.append((key, value))


def counted(replica_id: str, amount: int) -> Callable[[GCounter | None], GCounter]:
    """A change for ``Replica.update``: the counter with ``replica_id``'s entry raised by ``amount``."""
    return lambda counter: (counter or GCounter()).increment(replica_id, amount)


def test_objects_not_handed_over_when_publishing_raises_are_published_next_time() -> None:
    producer = FailingOnceProducer(fail_at=2)
    replica = Replica(Settings(), "rt/1", producer=producer)  # type: ignore[arg-type]
    for name in ("a", "b", "c"):
        replica.update(name, counted("rt/1", 1), defer=True)

    with pytest.raises(BufferError):
        replica.publish_pending()
    assert [decode_state(value)[0] for _key, value in producer.taken] == ["a"]

    assert replica.publish_pending() == 2
    assert [decode_state(value)[0] for _key, value in producer.taken] == ["a", "b", "c"]
    assert replica.publish_pending() == 0
