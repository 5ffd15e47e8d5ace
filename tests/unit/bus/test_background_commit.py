"""BackgroundCommit's order of operations, against a recording stand-in for the transactional producer."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from shared.bus.background_commit import BackgroundCommit, CannotBegin


class RecordingProducer:
    """What the commit sequence does to a transactional producer, in order; commits wait for ``release``."""

    transactional = True

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.held: list[str] | None = None
        self.release = threading.Event()
        self.fail_next_commit = False
        self.begin_fails = 0

    def hold(self) -> None:
        self.held = [] if self.held is None else self.held

    def publish(self, record: str) -> None:
        if self.held is not None:
            self.held.append(record)
        else:
            self.calls.append(f"produce {record}")

    def release_held(self) -> int:
        held, self.held = self.held or [], None
        for record in held:
            self.publish(record)
        return len(held)

    def drop_held(self) -> None:
        self.held = None

    def begin(self) -> None:
        if self.begin_fails:
            self.begin_fails -= 1
            raise KafkaException(KafkaError(KafkaError._TRANSPORT, "injected: the coordinator is away"))
        self.calls.append("begin")

    def commit(self, *_: Any) -> None:
        self.release.wait(5)
        if self.fail_next_commit:
            self.fail_next_commit = False
            self.calls.append("commit failed")
            raise RuntimeError("injected commit failure")
        self.calls.append("committed")

    def abort(self) -> None:
        self.calls.append("abort")


def committer() -> tuple[BackgroundCommit, RecordingProducer]:
    producer = RecordingProducer()
    return BackgroundCommit(producer), producer  # type: ignore[arg-type]


def committing_a1_that_fails() -> tuple[BackgroundCommit, RecordingProducer]:
    """A batch publishing ``a1`` handed over; its commit fails."""
    background, producer = committer()
    producer.fail_next_commit = True
    producer.release.set()
    background.start_batch()
    producer.publish("a1")
    background.commit()
    return background, producer


def test_a_batch_is_held_while_the_previous_commits_and_begins_only_once_that_commit_is_through() -> None:
    background, producer = committer()
    background.start_batch()
    producer.publish("a1")
    background.commit()  # first batch: begins at once, commits on the helper thread (held up by ``release``)
    background.start_batch()
    producer.publish("b1")
    assert producer.calls == ["begin", "produce a1"]  # b1 is held: a transaction is committing
    assert background.in_flight()
    producer.release.set()
    background.settle()
    assert not background.in_flight()
    background.commit()
    background.close()
    assert producer.calls == ["begin", "produce a1", "committed", "begin", "produce b1", "committed"]


def test_a_failed_commit_is_raised_at_the_next_commit_and_abort_aborts_it_and_drops_the_held_batch() -> None:
    background, producer = committing_a1_that_fails()
    background.start_batch()
    producer.publish("b1")
    background.settle()
    assert isinstance(background.failure(), RuntimeError)
    with pytest.raises(RuntimeError, match="injected"):
        background.commit()
    background.abort()
    assert producer.held is None
    assert producer.calls == ["begin", "produce a1", "commit failed", "abort"]
    background.close()


def test_abort_after_a_successful_commit_aborts_nothing() -> None:
    background, producer = committer()
    producer.release.set()
    background.start_batch()
    producer.publish("a1")
    background.commit()
    background.start_batch()
    producer.publish("b1")  # its handling fails: nothing of it was produced, no transaction is open for it
    background.abort()
    assert background.failure() is None
    assert producer.calls == ["begin", "produce a1", "committed"]
    background.close()


def test_a_transaction_that_cannot_begin_keeps_the_batch_held_for_the_next_try() -> None:
    background, producer = committer()
    producer.release.set()
    producer.begin_fails = 1
    background.start_batch()
    producer.publish("a1")
    with pytest.raises(CannotBegin):
        background.commit()
    assert producer.held == ["a1"] and producer.calls == []
    background.commit()
    background.close()
    assert producer.calls == ["begin", "produce a1", "committed"]


def test_closing_after_a_last_commit_that_failed_aborts_its_transaction_and_raises() -> None:
    background, producer = committing_a1_that_fails()
    with pytest.raises(RuntimeError, match="injected"):
        background.close()
    assert producer.calls == ["begin", "produce a1", "commit failed", "abort"]


def test_a_plain_producer_cannot_commit_in_the_background() -> None:
    producer = RecordingProducer()
    producer.transactional = False
    with pytest.raises(ValueError, match="transactional"):
        BackgroundCommit(producer)  # type: ignore[arg-type]
