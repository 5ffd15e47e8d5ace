"""How the faust wrapper's handler loop (shared/bus/faust_stream.py) tells the record's fault from the bus's: a
handler that keeps failing has its record dead-lettered; a transient failure (a table's changelog missing from
the consumer's metadata, a retriable Kafka error) is retried, with a metadata refresh for the former, and the
record is never dead-lettered for it."""

from __future__ import annotations

import asyncio
from typing import Any

import aiokafka.errors
import pytest
from confluent_kafka import KafkaError, KafkaException
from faust.exceptions import PartitionsMismatch

from shared.bus.faust_stream import TRANSIENT_BACKOFF_MAX_S, _handle, is_transient, transient_backoff_s
from shared.bus.record import Record
from shared.events.catalogue.goals import SubmitGoal
from shared.events.codec import encode, new_event
from shared.events.envelope import Envelope

MISMATCH = PartitionsMismatch("the changelog topic 'app-goals-changelog' has 0 partitions")


class DeadLetters:
    """Records what would have been dead-lettered."""

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes | None]] = []

    def publish_raw(self, topic: str, key: bytes | None, value: bytes | None, headers: Any, **_: Any) -> None:
        self.published.append((topic, value))

    def flush(self) -> None:
        pass


class FailingHandler:
    """Raises each of ``failures`` in turn, then succeeds."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self, envelope: Envelope[Any]) -> None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)


def envelope() -> Envelope[Any]:
    return new_event(
        SubmitGoal(goal_id="g-1", goal_type="fix_bug"), producer="test", stream_id="g-1", correlation_id="g-1"
    )


def handle(handler: FailingHandler, dead_letters: DeadLetters, refreshed: list[int] | None = None) -> bool:
    event = envelope()
    record = Record(topic="architect.goals.commands", partition=0, offset=7, key=b"g-1", value=encode(event))

    async def refresh() -> None:
        if refreshed is not None:
            refreshed.append(1)

    return asyncio.run(_handle(handler, event, record, "test-group", dead_letters, 3, refresh))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (MISMATCH, True),
        (aiokafka.errors.NotLeaderForPartitionError(), True),
        (aiokafka.errors.KafkaTimeoutError(), True),
        (aiokafka.errors.MessageSizeTooLargeError(), False),
        (KafkaException(KafkaError(KafkaError._TRANSPORT, retriable=True)), True),
        (KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)), False),
        (KafkaException("no KafkaError inside"), False),
        (ValueError("a bug, or a record the handler cannot take"), False),
        (ConnectionError("a backend's outage: retried a few times, as any handler failure"), False),
    ],
)
def test_failures_from_the_bus_that_pass_by_themselves_are_transient(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient


def test_a_transient_failure_is_retried_with_a_metadata_refresh_and_never_dead_lettered() -> None:
    dead_letters, refreshed = DeadLetters(), []
    handler = FailingHandler(MISMATCH, MISMATCH, MISMATCH, MISMATCH)  # more than max_attempts (3)
    assert handle(handler, dead_letters, refreshed)
    assert handler.calls == 5 and len(refreshed) == 4
    assert dead_letters.published == []


def test_a_handler_that_keeps_failing_is_dead_lettered_after_its_attempts_transient_failures_aside() -> None:
    dead_letters = DeadLetters()
    handler = FailingHandler(MISMATCH, RuntimeError("1"), MISMATCH, RuntimeError("2"), RuntimeError("3"))
    assert not handle(handler, dead_letters)
    assert handler.calls == 5, "the transient failures did not count among the 3 attempts"
    assert [topic for topic, _ in dead_letters.published] == ["architect.deadletter"]


def test_a_handler_that_fails_then_succeeds_is_not_dead_lettered() -> None:
    dead_letters = DeadLetters()
    assert handle(FailingHandler(RuntimeError("once")), dead_letters)
    assert dead_letters.published == []


def test_transient_retries_back_off_up_to_a_bound() -> None:
    pauses = [transient_backoff_s(retry) for retry in range(1, 40)]
    assert pauses[0] == pytest.approx(0.1)
    assert pauses == sorted(pauses)
    assert max(pauses) == TRANSIENT_BACKOFF_MAX_S
