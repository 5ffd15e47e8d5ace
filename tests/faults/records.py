"""Raw records for the faults: poison of every kind, and segments of topics read back and published again
exactly as they were (key, value, headers, partition).

``consumers`` says which consumer groups read which topic, from the services' own constants.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Producer, TopicPartition

from services.agent_runtime.service import TOPICS as RUNTIME_TOPICS
from services.assigner.service import GROUP as ASSIGNER
from services.assigner.service import TOPICS as ASSIGNER_TOPICS
from services.consensus.service import APP_ID as CONSENSUS
from services.consensus.service import DECISION_SOURCES
from services.drift_monitor.service import AGENT_SOURCES
from services.drift_monitor.service import APP_ID as DRIFT_MONITOR
from services.orchestrator.service import APP_ID as ORCHESTRATOR
from services.orchestrator.service import TOPICS as ORCHESTRATOR_TOPICS
from services.projector.service import GROUP as PROJECTOR
from services.saga_coordinator.service import APP_ID as SAGA_COORDINATOR
from services.saga_coordinator.service import SAGA_SOURCES
from services.scheduler.service import GROUP as SCHEDULER
from shared.bus.client_config import kafka_config
from shared.bus.reader import end_offsets, read_assigned, scan_consumer
from shared.bus.record import Record
from shared.bus.topics import (
    EVENT_TOPICS,
    SAGAS_EVENTS,
    SCHEDULER_DELAYED,
    TASKS_EVENTS,
)
from shared.events.catalogue.agents import AgentHeartbeat
from shared.events.codec import encode, new_event
from shared.settings import Settings

POISON_HEADER = "fault-poison"
#: Each kind of poison and the dead-letter reason it must get. ``epoch_timestamp`` and ``nul_character`` validate
#: loosely in pydantic but cannot enter the event log (Postgres ``timestamptz`` / ``jsonb``): every consumer must
#: refuse them at decode, not only the projector at its write.
KINDS = {
    "not_json": "not_json",
    "schema_invalid": "schema_invalid",
    "epoch_timestamp": "schema_invalid",
    "nul_character": "schema_invalid",
    "unknown_type": "unknown_type",
    "oversized": "oversized",
    "wrong_key": "wrong_key",
}

Position = tuple[str, int]


def consumers(runtime_group: str) -> dict[str, set[str]]:
    """topic -> the consumer groups of the stack that read it (and so must dead-letter its poison)."""
    reads = {
        ORCHESTRATOR: ORCHESTRATOR_TOPICS,
        SAGA_COORDINATOR: SAGA_SOURCES,
        CONSENSUS: (*DECISION_SOURCES, SAGAS_EVENTS),
        DRIFT_MONITOR: (TASKS_EVENTS, *AGENT_SOURCES),
        ASSIGNER: ASSIGNER_TOPICS,
        SCHEDULER: (SCHEDULER_DELAYED,),
        runtime_group: RUNTIME_TOPICS,
        PROJECTOR: EVENT_TOPICS,
    }
    by_topic: dict[str, set[str]] = {}
    for group, topics in reads.items():
        for topic in topics:
            by_topic.setdefault(topic, set()).add(group)
    return by_topic


def poison_value(kind: str, stream: str, max_bytes: int) -> tuple[bytes, bytes]:
    """(key, value) of one poison record of ``kind``."""
    key = stream.encode()
    if kind == "not_json":
        return key, b"\x00{not json at all"
    if kind == "schema_invalid":
        return key, json.dumps({"type": "AgentHeartbeat", "version": 1, "payload": {"agent_id": 7}}).encode()
    if kind == "unknown_type":
        envelope = json.loads(encode(new_event(AgentHeartbeat(agent_id=stream), producer="faults", **_ids(stream))))
        envelope["type"] = "NoSuchEventType"
        return key, json.dumps(envelope).encode()
    if kind in ("epoch_timestamp", "nul_character"):
        envelope = json.loads(encode(new_event(AgentHeartbeat(agent_id=stream), producer="faults", **_ids(stream))))
        if kind == "epoch_timestamp":
            envelope["occurred_at"] = 1_700_000_000
        else:
            envelope["producer"] = "faults\u0000"
        return key, json.dumps(envelope).encode()
    if kind == "oversized":
        return key, json.dumps({"type": "AgentHeartbeat", "pad": "x" * (max_bytes + 1)}).encode()
    if kind == "wrong_key":
        valid = encode(new_event(AgentHeartbeat(agent_id=stream), producer="faults", **_ids(stream)))
        return b"not-" + key, valid
    raise ValueError(kind)


def _ids(stream: str) -> dict[str, Any]:
    return {"stream_id": stream, "correlation_id": stream}


def raw_producer(settings: Settings) -> Producer:
    return Producer(
        kafka_config(settings)
        | {
            "client.id": "fault-tests-raw",
            "enable.idempotence": True,
            "acks": "all",
            "compression.type": "lz4",
            "message.max.bytes": 4 * 1024 * 1024,
        }
    )


def publish_poison(settings: Settings, topics: Iterable[str], tag: str) -> dict[str, tuple[str, str]]:
    """One poison record of every kind on every topic; returns poison id -> (topic, kind)."""
    producer = raw_producer(settings)
    sent: dict[str, tuple[str, str]] = {}
    for topic in topics:
        for kind in KINDS:
            poison_id = f"{tag}/{topic}/{kind}"
            key, value = poison_value(kind, f"poison-{tag}-{kind}", settings.max_event_bytes)
            producer.produce(topic, value, key, headers=[(POISON_HEADER, poison_id.encode())])
            sent[poison_id] = (topic, kind)
            producer.poll(0)
    assert producer.flush(60) == 0, "poison records were not all delivered"
    return sent


def positions(settings: Settings, topics: Iterable[str]) -> dict[Position, int]:
    """The current end offset of every partition of ``topics``."""
    consumer = scan_consumer(settings)
    try:
        return {tp: high for tp, (_low, high) in end_offsets(consumer, list(topics)).items()}
    finally:
        consumer.close()


def read_segment(settings: Settings, starts: dict[Position, int]) -> list[Record]:
    """Every committed record from ``starts`` to the current end of each partition, per partition in order."""
    consumer = scan_consumer(settings)
    try:
        ends = end_offsets(consumer, sorted({topic for topic, _ in starts}))
        targets = {tp: high for tp, (_low, high) in ends.items() if high > starts.get(tp, OFFSET_BEGINNING)}
        if not targets:
            return []
        consumer.assign([TopicPartition(t, p, starts.get((t, p), OFFSET_BEGINNING)) for t, p in targets])
        return [record for batch in read_assigned(consumer, targets, timeout_s=60) for record in batch]
    finally:
        consumer.close()


def republish(settings: Settings, records: list[Record], *, reverse: bool = False) -> int:
    """Publish ``records`` again to their own topic and partition with their key, value and headers; in
    reverse order within each partition when ``reverse`` (late retries overtaking newer records)."""
    by_partition: dict[Position, list[Record]] = {}
    for record in records:
        by_partition.setdefault((record.topic, record.partition), []).append(record)
    producer = raw_producer(settings)
    count = 0
    for (topic, partition), batch in by_partition.items():
        for record in reversed(batch) if reverse else batch:
            producer.produce(topic, record.value, record.key, partition=partition, headers=list(record.headers))
            producer.poll(0)
            count += 1
    assert producer.flush(60) == 0, "replayed records were not all delivered"
    return count
