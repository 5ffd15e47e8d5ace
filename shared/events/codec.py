"""Bytes <-> envelopes: validation on produce and on consume, with a precise reason for every rejection."""

from __future__ import annotations

import re
import uuid
from functools import cache
from typing import Any, Literal

import pydantic_core
from pydantic import ValidationError

from shared.events.catalogue import CATALOGUE, UnknownEventType, spec_for
from shared.events.envelope import Envelope, Payload, mark_upcast
from shared.events.spec import EventSpec
from shared.events.storable import holds_nul
from shared.events.upcasting import UpcastError, upcast

DEFAULT_MAX_EVENT_BYTES = 1_000_000

RejectReason = Literal["oversized", "not_json", "schema_invalid", "unknown_type", "unsupported_version", "wrong_key"]


class DecodeError(ValueError):
    """A record that is not a valid Architect event; ``reason`` is a stable code for metrics and DLQ."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason: RejectReason = reason
        self.message = message


@cache
def envelope_model(payload: type[Payload]) -> type[Envelope[Any]]:
    """The concrete ``Envelope[Payload]`` model for one payload type (cached: pydantic builds it once)."""
    return Envelope[payload]  # type: ignore[valid-type]


@cache
def _spec_by_payload() -> dict[type[Payload], EventSpec]:
    return {spec.payload: spec for spec in CATALOGUE.values()}


def spec_of_payload(payload: Payload) -> EventSpec:
    """The catalogue entry of a payload instance."""
    try:
        return _spec_by_payload()[type(payload)]
    except KeyError:
        _spec_by_payload.cache_clear()
        try:
            return _spec_by_payload()[type(payload)]
        except KeyError:
            raise UnknownEventType(f"{type(payload).__name__} is not in the catalogue") from None


def new_event(
    payload: Payload,
    *,
    producer: str,
    stream_id: str,
    correlation_id: str,
    causation_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
) -> Envelope[Any]:
    """Wrap a payload in an envelope of its catalogued type and current version."""
    spec = spec_of_payload(payload)
    fields: dict[str, Any] = {
        "type": spec.type,
        "version": spec.version,
        "producer": producer,
        "stream_id": stream_id,
        "correlation_id": correlation_id,
        "causation_id": causation_id,
        "payload": payload,
    }
    if event_id is not None:
        fields["event_id"] = event_id
    return envelope_model(spec.payload)(**fields)


def caused_by(
    cause: Envelope[Any], payload: Payload, *, producer: str, kind: str, stream_id: str | None = None
) -> Envelope[Any]:
    """An event caused by ``cause``: same correlation, causation set, and a deterministic id from ``kind``."""
    return new_event(
        payload,
        producer=producer,
        stream_id=stream_id or cause.stream_id,
        correlation_id=cause.correlation_id,
        causation_id=cause.event_id,
        event_id=cause.derive_id(kind),
    )


def encode(envelope: Envelope[Any]) -> bytes:
    """The JSON value written to Kafka."""
    return envelope.model_dump_json().encode()


def decode(value: bytes | None, key: bytes | None = None, *, max_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> Envelope[Any]:
    """Parse, upcast and validate one record. Raises ``DecodeError`` with a reason code on any defect.

    When ``key`` is given it must equal the envelope's ``stream_id``: keys decide partitions and so ordering,
    and a record keyed differently would be processed out of order with the rest of its stream.
    """
    if value is None:
        raise DecodeError("not_json", "record has no value (tombstone)")
    if len(value) > max_bytes:
        raise DecodeError("oversized", f"{len(value)} bytes exceeds the limit of {max_bytes}")
    envelope = _decode_current(value) or _decode_checked(value)
    if key is not None and key.decode(errors="replace") != envelope.stream_id:
        raise DecodeError("wrong_key", f"key {key!r} differs from stream_id {envelope.stream_id!r}")
    return envelope


#: A ``"type": "..."`` member without escapes, and the one ``"version": <digits>`` member (see ``_decode_current``).
_TYPE_MEMBER = re.compile(rb'"type"\s*:\s*"([A-Za-z0-9_]{1,100})"')
_VERSION_MEMBER = re.compile(rb'"version"\s*:\s*([0-9]+)\s*[,}]')


def _decode_current(value: bytes) -> Envelope[Any] | None:
    """The common case in one pass: a record of a catalogued type at its current version, validated straight from
    the bytes (``model_validate_json``, no intermediate dict). ``None`` whenever anything differs from that case,
    and ``_decode_checked`` then decides, so rejections and upcasts are exactly those of the checked path.

    It accepts only what the checked path accepts, with the same result: the validated envelope's ``type`` must
    equal the type read here (so the same model validates), and its ``version`` must come from the record's one
    ``"version"`` member written as a plain JSON integer (the checked path rejects ``"2"``, ``2.0`` or ``true``,
    which validation alone would coerce). No ``\\u`` escapes, so no key spells ``version`` in disguise.
    """
    found = _TYPE_MEMBER.search(value)
    if found is None or b"\\u" in value or value.count(b'"version"') != 1:
        return None
    spec = CATALOGUE.get(found.group(1).decode())
    written = _VERSION_MEMBER.search(value)
    if spec is None or written is None or int(written.group(1)) != spec.version:
        return None
    try:
        envelope = envelope_model(spec.payload).model_validate_json(value)
    except ValidationError:
        return None
    return envelope if envelope.type == spec.type else None


def _decode_checked(value: bytes) -> Envelope[Any]:
    """Parse, check type and version, upcast, validate: every defect raises ``DecodeError`` with its reason."""
    try:
        raw = pydantic_core.from_json(value)
    except ValueError as exc:
        raise DecodeError("not_json", f"value is not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise DecodeError("schema_invalid", f"envelope must be a JSON object, got {type(raw).__name__}")
    event_type, version = raw.get("type"), raw.get("version")
    if not isinstance(event_type, str) or not isinstance(version, int) or isinstance(version, bool):
        raise DecodeError("schema_invalid", "envelope needs a string 'type' and an integer 'version'")
    try:
        spec = spec_for(event_type)
    except UnknownEventType as exc:
        raise DecodeError("unknown_type", str(exc.args[0])) from None
    if version > spec.version or version < 1:
        raise DecodeError("unsupported_version", f"{event_type} v{version} (this build knows v1..v{spec.version})")
    written_as = version
    if version < spec.version:
        if not isinstance(raw.get("payload"), dict):
            raise DecodeError("schema_invalid", "payload must be a JSON object")
        try:
            raw["payload"] = upcast(event_type, version, raw["payload"], spec.version)
        except UpcastError as exc:
            raise DecodeError("unsupported_version", str(exc)) from None
        raw["version"] = spec.version
    try:
        envelope = envelope_model(spec.payload).model_validate(raw)
    except ValidationError as exc:
        raise DecodeError("schema_invalid", _describe(exc)) from None
    if b"\\u0000" in value and holds_nul(raw):
        raise DecodeError(
            "schema_invalid", "a string holds a NUL character (\\u0000), which the event log cannot store"
        )
    if written_as != spec.version:
        mark_upcast(envelope, written_as)
    return envelope


def _describe(exc: ValidationError) -> str:
    """First errors of a validation failure, as 'field.path: message'."""
    parts = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:5]]
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
