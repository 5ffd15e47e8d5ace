"""The envelope codec: round trips, upcasting, and a precise reason for every rejected record."""

from __future__ import annotations

import json
import uuid

import pytest

from shared.events.catalogue import CATALOGUE
from shared.events.catalogue.goals import SubmitGoal
from shared.events.catalogue.tasks import TaskSucceeded
from shared.events.codec import DecodeError, caused_by, decode, encode, new_event
from tests.unit.events.samples import sample_payload


def submit(goal_id: str = "g-1") -> object:
    return new_event(
        SubmitGoal(goal_id=goal_id, goal_type="fix_bug", title="crash on save"),
        producer="cli",
        stream_id=goal_id,
        correlation_id=goal_id,
    )


@pytest.mark.parametrize("event_type", sorted(CATALOGUE))
def test_every_catalogued_type_round_trips_through_bytes(event_type: str) -> None:
    spec = CATALOGUE[event_type]
    envelope = new_event(sample_payload(spec.payload), producer="test", stream_id="s-1", correlation_id="c-1")
    decoded = decode(encode(envelope), b"s-1")
    assert decoded == envelope
    assert decoded.type == event_type and decoded.version == spec.version
    assert type(decoded.payload) is spec.payload


def test_derived_events_get_deterministic_ids_and_keep_the_causal_chain() -> None:
    cause = submit()
    payload = TaskSucceeded(task_id="t", goal_id="g-1", agent_id="a")
    first = caused_by(cause, payload, producer="x", kind="done")
    again = caused_by(cause, payload, producer="x", kind="done")
    assert first.event_id == again.event_id
    assert first.causation_id == cause.event_id
    assert first.correlation_id == cause.correlation_id
    assert caused_by(cause, payload, producer="x", kind="other").event_id != first.event_id


def test_version_1_goal_is_upcast_to_the_current_version_on_read() -> None:
    old = {
        "type": "SubmitGoal",
        "version": 1,
        "producer": "old-cli",
        "stream_id": "g",
        "correlation_id": "g",
        "payload": {"goal_id": "g", "goal_type": "refactor", "description": "split the module"},
    }
    envelope = decode(json.dumps(old).encode())
    assert envelope.version == 2
    assert envelope.payload.title == "split the module"
    assert envelope.payload.priority == 0
    assert envelope.upcast_from == 1


def test_a_current_record_is_not_marked_as_upcast() -> None:
    assert decode(encode(submit())).upcast_from is None


@pytest.mark.parametrize(
    ("value", "key", "reason"),
    [
        (b"\x00\x01 not json", None, "not_json"),
        (b"[1, 2]", None, "schema_invalid"),
        (b'{"type": "SubmitGoal"}', None, "schema_invalid"),
        (b'{"type": "LaunchRockets", "version": 1}', None, "unknown_type"),
        (b'{"type": "SubmitGoal", "version": 9}', None, "unsupported_version"),
        (None, None, "not_json"),
    ],
)
def test_bad_records_are_rejected_with_a_reason_code(value: bytes | None, key: bytes | None, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode(value, key)
    assert info.value.reason == reason


def test_a_payload_missing_required_fields_names_them() -> None:
    raw = json.loads(encode(submit()))
    del raw["payload"]["goal_type"]
    with pytest.raises(DecodeError) as info:
        decode(json.dumps(raw).encode())
    assert info.value.reason == "schema_invalid"
    assert "payload.goal_type" in info.value.message


def test_unknown_payload_fields_are_refused() -> None:
    raw = json.loads(encode(submit()))
    raw["payload"]["rm_rf"] = True
    with pytest.raises(DecodeError, match="rm_rf"):
        decode(json.dumps(raw).encode())


def test_oversized_records_are_refused_before_parsing() -> None:
    with pytest.raises(DecodeError) as info:
        decode(b"{" + b" " * 2000 + b"}", max_bytes=1000)
    assert info.value.reason == "oversized"


def test_a_key_that_differs_from_the_stream_id_is_refused() -> None:
    with pytest.raises(DecodeError) as info:
        decode(encode(submit("g-1")), b"g-2")
    assert info.value.reason == "wrong_key"


def test_envelope_ids_are_uuids_and_times_are_timezone_aware() -> None:
    envelope = submit()
    assert isinstance(envelope.event_id, uuid.UUID)
    assert envelope.occurred_at.tzinfo is not None


@pytest.mark.parametrize(
    ("occurred_at", "problem"),
    [
        (1_700_000_000, "not a number"),
        (1_700_000_000.5, "not a number"),
        ("2026-11-29T04:00:00", "timezone"),
    ],
)
def test_occurred_at_must_be_an_rfc3339_timestamp_with_an_offset(occurred_at: object, problem: str) -> None:
    """Epoch numbers and naive times validate loosely in pydantic but break the event log's ``timestamptz`` column
    and ordering against aware times, so they are refused like any other schema defect."""
    raw = json.loads(encode(submit()))
    raw["occurred_at"] = occurred_at
    with pytest.raises(DecodeError) as info:
        decode(json.dumps(raw).encode())
    assert info.value.reason == "schema_invalid"
    assert "occurred_at" in info.value.message and problem in info.value.message


def test_a_string_holding_a_nul_character_is_refused_and_other_escapes_are_not() -> None:
    raw = json.loads(encode(submit()))
    raw["payload"]["title"] = "before\x00after"
    with pytest.raises(DecodeError) as info:
        decode(json.dumps(raw).encode())
    assert info.value.reason == "schema_invalid" and "NUL" in info.value.message
    raw["payload"]["title"] = "a backslash then u0000: \\u0000, and \u00e9"
    assert decode(json.dumps(raw).encode()).payload.title == raw["payload"]["title"]
