"""TaskFailed and TaskAbandoned v2 (error class ``lock_conflict``) and AgentHeartbeat v2 (``lease_waits``):
v1 records are upcast on read, the current versions round-trip, and the exported schemas say so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.events.catalogue import CATALOGUE
from shared.events.catalogue.agents import AgentHeartbeat
from shared.events.catalogue.tasks import TaskFailed
from shared.events.codec import DecodeError, decode, encode, new_event
from shared.events.schema_export import export_schemas, schema_for


def record(event_type: str, version: int, payload: dict[str, Any]) -> bytes:
    envelope = {"type": event_type, "version": version, "producer": "old", "stream_id": "g", "correlation_id": "g"}
    return json.dumps({**envelope, "payload": payload}).encode()


FAILED_V1 = {"task_id": "t", "goal_id": "g", "agent_id": "a", "attempt": 2, "error_class": "crash", "error": "boom"}


@pytest.mark.parametrize("event_type", ["TaskFailed", "TaskAbandoned"])
def test_v1_task_failures_are_upcast_unchanged(event_type: str) -> None:
    payload = {k: v for k, v in FAILED_V1.items() if event_type == "TaskFailed" or k not in ("agent_id", "error")}
    envelope = decode(record(event_type, 1, payload))
    assert (envelope.version, envelope.upcast_from) == (2, 1)
    assert envelope.payload.error_class == "crash" and envelope.payload.attempt == 2


def test_v1_heartbeat_is_upcast_with_no_lease_waits() -> None:
    envelope = decode(record("AgentHeartbeat", 1, {"agent_id": "a", "in_flight": 3}))
    assert (envelope.version, envelope.payload.in_flight, envelope.payload.lease_waits) == (2, 3, 0)


def test_lock_conflict_round_trips_at_v2_and_a_v1_record_cannot_claim_it_as_v3() -> None:
    failed = TaskFailed(**{**FAILED_V1, "error_class": "lock_conflict", "error": "src/a.py held by bob"})
    event = new_event(failed, producer="agent:a", stream_id="g", correlation_id="g")
    decoded = decode(encode(event))
    assert decoded.version == 2 and decoded.payload == failed
    beat = new_event(AgentHeartbeat(agent_id="a", lease_waits=2), producer="agent:a", stream_id="a", correlation_id="a")
    assert decode(encode(beat)).payload.lease_waits == 2
    with pytest.raises(DecodeError) as info:
        decode(record("TaskFailed", 3, FAILED_V1))
    assert info.value.reason == "unsupported_version"
    with pytest.raises(DecodeError) as info:
        decode(record("AgentHeartbeat", 2, {"agent_id": "a", "lease_waits": -1}))
    assert info.value.reason == "schema_invalid"


def test_exported_schemas_carry_the_new_versions_and_error_class(tmp_path: Path) -> None:
    written = {path.name for path in export_schemas(tmp_path)}
    assert {"TaskFailed.v2.schema.json", "TaskAbandoned.v2.schema.json", "AgentHeartbeat.v2.schema.json"} <= written
    for event_type in ("TaskFailed", "TaskAbandoned"):
        schema = schema_for(event_type)
        assert schema["properties"]["version"]["const"] == CATALOGUE[event_type].version == 2
        assert "lock_conflict" in json.dumps(schema)
    assert "lease_waits" in json.dumps(schema_for("AgentHeartbeat"))
