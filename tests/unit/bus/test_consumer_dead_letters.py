"""Outside a transaction, a batch's dead letters are acknowledged before its handler runs: a handler may store
positions of its own past the rejected record (the projector keeps them in Postgres with its rows), and a process
killed between that and the producer's next flush would otherwise lose the record without a dead letter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from shared.bus import consumer as consumer_module
from shared.bus.consumer import BatchHandler, ConsumerLoop, Delivery, RejectRecord, Rewind
from shared.bus.producer import DeliveryError, ProducerQueueFull
from shared.bus.record import Record
from shared.bus.topics import DEAD_LETTERS, GOALS_EVENTS
from shared.events.catalogue.goals import GoalSubmitted
from shared.events.codec import encode, new_event
from shared.settings import Settings


class RecordingProducer:
    """Stands for ``EventProducer``: notes what is queued and flushed, in order; a flush fails while ``fail``."""

    transactional = False
    holding = False

    def __init__(self, *, fail: bool = False) -> None:
        self.calls: list[str] = []
        self.fail = fail

    def publish_raw(self, topic: str, key: Any, value: Any, headers: Any = None, *, event_type: str = "raw") -> None:
        self.calls.append(f"queued to {topic}")

    def flush(self, timeout: float = 60.0) -> None:
        self.calls.append("flush")
        if self.fail:
            raise DeliveryError("architect.deadletter: Local: Message timed out")


def loop_with(producer: RecordingProducer, handle: BatchHandler | None = None) -> ConsumerLoop:
    """A loop over ``producer`` whose batch handler is ``handle``, or one that notes what it took."""

    def note(deliveries: Sequence[Delivery], records: Sequence[Record]) -> None:
        producer.calls.append(f"handler took {len(deliveries)} of {len(records)}")

    return ConsumerLoop(
        Settings(),
        group_id="g",
        topics=[GOALS_EVENTS],
        producer=producer,  # type: ignore[arg-type]
        batch_handler=handle or note,
    )


def batch() -> list[Record]:
    goal = new_event(
        GoalSubmitted(goal_id="g1", goal_type="fix_bug", title="t"),
        producer="test",
        stream_id="g1",
        correlation_id="g1",
    )
    return [
        Record(GOALS_EVENTS, 0, 10, b"g1", b"{not json"),
        Record(GOALS_EVENTS, 0, 11, b"g1", encode(goal)),
    ]


def test_a_batch_with_a_dead_letter_waits_for_its_acknowledgement_before_the_handler_runs() -> None:
    producer = RecordingProducer()
    loop_with(producer)._process(batch())
    assert producer.calls == [f"queued to {DEAD_LETTERS}", "flush", "handler took 1 of 2"]


def test_a_batch_without_dead_letters_does_not_wait() -> None:
    producer = RecordingProducer()
    loop_with(producer)._process(batch()[1:])
    assert producer.calls == ["handler took 1 of 1"]


def test_a_dead_letter_not_acknowledged_re_reads_the_batch_without_handling_it() -> None:
    producer = RecordingProducer(fail=True)
    with pytest.raises(Rewind) as rewind:
        loop_with(producer)._process(batch())
    assert rewind.value.positions == {(GOALS_EVENTS, 0): 10}
    assert producer.calls == [f"queued to {DEAD_LETTERS}", "flush"]


def test_a_producer_queue_full_for_too_long_re_reads_the_batch_instead_of_ending_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class QueueFullProducer(RecordingProducer):
        def publish_raw(self, *args: Any, **kwargs: Any) -> None:
            raise ProducerQueueFull("architect.deadletter: the producer's queue stayed full for 60s")

    loop = loop_with(QueueFullProducer())
    seeks: list[dict[tuple[str, int], int]] = []
    monkeypatch.setattr(loop, "_seek", seeks.append)
    records = batch()
    loop._in_transaction(lambda: loop._run_tick_then(records), records)
    assert seeks == [{(GOALS_EVENTS, 0): 10}]


def test_a_dead_letter_not_acknowledged_re_reads_the_batch_and_the_loop_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The re-read's own flush may fail again (brokers still away): the loop seeks all the same, never ends."""
    loop = loop_with(RecordingProducer(fail=True))
    seeks: list[dict[tuple[str, int], int]] = []
    monkeypatch.setattr(loop, "_seek", seeks.append)
    records = batch()
    loop._in_transaction(lambda: loop._run_tick_then(records), records)
    assert seeks == [{(GOALS_EVENTS, 0): 10}]


def test_a_record_the_handler_rejects_is_acknowledged_as_a_dead_letter_before_handling_goes_on() -> None:
    producer = RecordingProducer()

    def handle(deliveries: Sequence[Delivery], records: Sequence[Record]) -> None:
        producer.calls.append(f"handler took {len(deliveries)}")
        raise RejectRecord("policy", "no such goal")

    loop_with(producer, handle)._process(batch()[1:])
    assert producer.calls == ["handler took 1", f"queued to {DEAD_LETTERS}", "flush"]


def test_a_rejection_whose_dead_letter_fails_re_reads_the_whole_batch_every_partition(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The batch is split after it failed as a whole: p0's record is handled, p1's rejected, p2's not reached yet
    when the dead letter's flush fails. Re-reading only p1 lost p2's record (read past, never handled)."""
    monkeypatch.setattr(consumer_module.time, "sleep", lambda _s: None)
    producer = RecordingProducer(fail=True)
    goal = batch()[1].value

    def handle(deliveries: Sequence[Delivery], records: Sequence[Record]) -> None:
        if len(deliveries) > 1 or deliveries[0].record.partition == 1:
            raise ValueError("cannot apply")
        producer.calls.append(f"handled p{deliveries[0].record.partition}")

    loop = loop_with(producer, handle)
    seeks: list[dict[tuple[str, int], int]] = []
    monkeypatch.setattr(loop, "_seek", seeks.append)
    records = [Record(GOALS_EVENTS, p, offset, b"g1", goal) for p, offset in ((0, 5), (1, 7), (2, 9))]
    loop._in_transaction(lambda: loop._run_tick_then(records), records)

    assert producer.calls[0] == "handled p0" and "handled p2" not in producer.calls
    assert seeks == [{(GOALS_EVENTS, 0): 5, (GOALS_EVENTS, 1): 7, (GOALS_EVENTS, 2): 9}]
