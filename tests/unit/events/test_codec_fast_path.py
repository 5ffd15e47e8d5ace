"""The codec's fast path (current-version records validated straight from the bytes) decides exactly as the
checked path: same envelopes for valid records, and every record it is unsure of left to the checked path."""

from __future__ import annotations

import json

import pytest

from shared.events.catalogue import CATALOGUE
from shared.events.codec import DecodeError, _decode_checked, _decode_current, decode, encode, new_event
from tests.unit.events.samples import sample_payload


def sample_bytes(event_type: str) -> bytes:
    spec = CATALOGUE[event_type]
    return encode(new_event(sample_payload(spec.payload), producer="test", stream_id="s-1", correlation_id="c-1"))


def checked_outcome(value: bytes) -> object:
    try:
        return _decode_checked(value)
    except DecodeError as exc:
        return exc.reason, exc.message


def decode_outcome(value: bytes) -> object:
    try:
        return decode(value)
    except DecodeError as exc:
        return exc.reason, exc.message


@pytest.mark.parametrize("event_type", sorted(CATALOGUE))
def test_every_catalogued_type_decodes_on_the_fast_path_as_on_the_checked_one(event_type: str) -> None:
    value = sample_bytes(event_type)
    checked = _decode_checked(value)
    fast = _decode_current(value)
    if value.count(b'"version"') > 1:
        assert fast is None  # a payload with a field named "version" (SagaStarted) takes the checked path
        fast = decode(value)
    assert fast is not None
    assert fast == checked
    assert type(fast.payload) is type(checked.payload)
    assert fast.upcast_from is None


def _edit(value: bytes, change: dict[str, object]) -> bytes:
    raw = json.loads(value)
    raw.update(change)
    return json.dumps(raw).encode()


@pytest.mark.parametrize(
    "variant",
    [
        # Coercible versions the checked path refuses ("needs an integer 'version'").
        lambda v: v.replace(b'"version":2', b'"version":"2"'),
        lambda v: v.replace(b'"version":2', b'"version":2.0'),
        lambda v: v.replace(b'"version":2', b'"version":true'),
        # An older version (upcast) and one from the future.
        lambda v: v.replace(b'"version":2', b'"version":1'),
        lambda v: v.replace(b'"version":2', b'"version":3'),
        # Keys spelt with escapes, twice, or missing.
        lambda v: v.replace(b'"version":2', b'"\\u0076ersion":2'),
        lambda v: v.replace(b'"type":"GoalSubmitted"', b'"\\u0074ype":"GoalSubmitted"'),
        lambda v: v.replace(b'"version":2', b'"version":2,"version":2'),
        lambda v: v.replace(b'"type":"GoalSubmitted"', b'"type":"GoalSubmitted","type":"TaskCreated"'),
        lambda v: v.replace(b'"version":2,', b""),
        # Unknown types, non-objects, unknown or missing fields, a type only inside the payload.
        lambda v: v.replace(b'"type":"GoalSubmitted"', b'"type":"LaunchRockets"'),
        lambda v: _edit(v, {"extra": 1}),
        lambda v: _edit(v, {"payload": {"type": "GoalSubmitted", "version": 2}}),
        lambda v: b"[" + v + b"]",
        lambda v: v[:-1],
    ],
)
def test_records_the_fast_path_is_unsure_of_are_decided_by_the_checked_path(variant: object) -> None:
    value = variant(sample_bytes("GoalSubmitted"))  # type: ignore[operator]
    assert _decode_current(value) is None
    assert decode_outcome(value) == checked_outcome(value)


def test_a_version_1_record_is_still_upcast_and_marked_and_the_mark_survives_copies() -> None:
    raw = json.loads(sample_bytes("GoalSubmitted"))
    raw["version"] = 1
    raw["payload"]["description"] = raw["payload"].pop("title")
    del raw["payload"]["priority"]
    envelope = decode(json.dumps(raw).encode())
    assert envelope.version == 2 and envelope.upcast_from == 1
    assert envelope.payload.priority == 0
    assert envelope.model_copy().upcast_from == 1
    current = decode(encode(envelope))
    assert current.upcast_from is None
    assert current != envelope  # as before: the mark is part of equality
