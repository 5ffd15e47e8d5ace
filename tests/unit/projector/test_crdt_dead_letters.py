"""The projector's CRDT loop dead-letters a record that is not a CRDT state once per batch, before its handler
runs, however often the handler is then retried (a Postgres outage used to dead-letter it again on every try)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from services.projector.crdt_state_store import BAD_CRDT_STATE, _stored_state, state_problem
from shared.bus import consumer as consumer_module
from shared.bus.consumer import RawBatchHandler, RawConsumerLoop, RawRecordCheck
from shared.bus.record import Record
from shared.bus.topics import DEAD_LETTERS, STATE_CRDT
from shared.crdt.g_counter import GCounter
from shared.crdt.replication import encode_state
from shared.settings import Settings


class RecordingProducer:
    transactional = False
    holding = False

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.reasons: list[str] = []

    def publish_raw(self, topic: str, key: Any, value: Any, headers: Any = None, *, event_type: str = "raw") -> None:
        self.calls.append(f"queued to {topic}")
        self.reasons += [v.decode() for k, v in headers or () if k == "dlq-reason"]

    def flush(self, timeout: float = 60.0) -> None:
        self.calls.append("flush")


def crdt_loop(producer: RecordingProducer, write: RawBatchHandler, check: RawRecordCheck) -> RawConsumerLoop:
    return RawConsumerLoop(
        Settings(),
        group_id="g",
        topics=[STATE_CRDT],
        producer=producer,  # type: ignore[arg-type]
        raw_handler=write,
        check=check,
    )


def good(offset: int) -> Record:
    key, value = encode_state("done", "rt-a", GCounter().increment("rt-a", offset))
    return Record(STATE_CRDT, 0, offset, key, value)


BAD = Record(STATE_CRDT, 0, 2, b"done/rt-b", b'{"object": "done", "replica": "rt-b", "type": "GCounter", "state": 5}')


def test_the_check_tells_states_from_records_that_are_none() -> None:
    assert state_problem(good(1)) is None
    assert state_problem(Record(STATE_CRDT, 0, 9, b"done/rt-a", None)) is None, "a tombstone is no poison"
    reason, error = state_problem(BAD) or ("", "")
    assert reason == BAD_CRDT_STATE and "not a CRDT state record" in error


def test_a_bad_record_is_dead_lettered_once_before_the_handler_however_often_it_is_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(consumer_module.time, "sleep", lambda _s: None)
    producer = RecordingProducer()
    handled: list[int] = []

    def write(records: Sequence[Record]) -> None:
        handled.append(len(records))
        producer.calls.append("handler")
        if len(handled) < 3:
            raise ConnectionError("Postgres away")

    crdt_loop(producer, write, state_problem)._process([good(1), BAD, good(3)])

    assert producer.calls == [f"queued to {DEAD_LETTERS}", "flush", "handler", "handler", "handler"]
    assert producer.reasons == [BAD_CRDT_STATE]
    assert handled == [3, 3, 3], "the handler still sees the whole batch (its positions), and skips the bad one"


def test_a_check_that_breaks_on_a_record_dead_letters_it_rather_than_end_the_loop() -> None:
    producer = RecordingProducer()

    def breaks(record: Record) -> tuple[str, str] | None:
        raise AttributeError("'int' object has no attribute 'items'")

    crdt_loop(producer, lambda _: None, breaks)._process([BAD])
    assert producer.calls == [f"queued to {DEAD_LETTERS}", "flush"] and producer.reasons == ["check_error"]


def test_a_stored_state_this_version_cannot_read_counts_as_absent_rather_than_failing_every_batch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An OR-Set row kept before tags had to be strings: reading it back raised, so every batch touching the
    object failed five times and was skipped, good states included."""
    assert _stored_state("active-sessions", "rt-a", "ORSet", {"added": {"agent": [1, 2]}}) is None
    assert "ignoring the stored ORSet state of active-sessions rt-a" in caplog.text
    kept = _stored_state("active-sessions", "rt-a", "ORSet", {"added": {"agent": ["rt-a/agent/1"]}})
    assert kept is not None and kept.elements == {"agent"}
    assert _stored_state("x", "rt-a", "NoSuchType", {}) is None
