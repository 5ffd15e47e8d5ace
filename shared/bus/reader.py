"""Read topics from their start to the end they had when reading began (tools, state loading, rebuild).

The end is detected with partition-EOF events rather than by waiting for the record at ``high - 1``: in
topics written by transactional producers the last offsets are commit markers, which are never delivered.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from shared.bus.client_config import kafka_config
from shared.bus.record import Record
from shared.settings import Settings

Position = tuple[str, int]


#: Errors a broker answers while partition leadership settles (just started, or a broker failed over).
SETTLING = frozenset(
    {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE, KafkaError.UNKNOWN_TOPIC_OR_PART}
)


def end_offsets(
    consumer: Consumer, topics: Iterable[str], *, timeout_s: float = 60.0
) -> dict[Position, tuple[int, int]]:
    """Low and high watermarks of every partition of ``topics`` that exists; waits out leader elections."""
    metadata = consumer.list_topics(timeout=30)
    offsets = {}
    deadline = time.monotonic() + timeout_s
    for topic in topics:
        if topic in metadata.topics:
            for partition in metadata.topics[topic].partitions:
                offsets[(topic, partition)] = _watermarks(consumer, TopicPartition(topic, partition), deadline)
    return offsets


def _watermarks(consumer: Consumer, tp: TopicPartition, deadline: float) -> tuple[int, int]:
    while True:
        try:
            return consumer.get_watermark_offsets(tp, timeout=30)
        except KafkaException as exc:
            if exc.args[0].code() not in SETTLING or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def scan_consumer(settings: Settings, overrides: dict[str, Any] | None = None) -> Consumer:
    """A consumer for scans: its own throw-away group, nothing committed, EOF events on."""
    return Consumer(
        kafka_config(settings)
        | {
            "group.id": f"architect-reader-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
        | (overrides or {})
    )


def read_assigned(
    consumer: Consumer, targets: dict[Position, int], *, batch: int = 1000, timeout_s: float = 120.0
) -> Iterator[list[Record]]:
    """Batches of records until every partition in ``targets`` reached its target offset (or its end)."""
    remaining = {tp: high for tp, high in targets.items()}
    deadline = time.monotonic() + timeout_s
    while remaining:
        if time.monotonic() > deadline:
            raise TimeoutError(f"could not read to the end of {sorted(remaining)} in {timeout_s:.0f}s")
        records = []
        for msg in consumer.consume(batch, 0.5):
            tp = (msg.topic() or "", msg.partition() or 0)
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF and tp in remaining and (msg.offset() or 0) >= remaining[tp]:
                    del remaining[tp]
                continue
            end = remaining.get(tp)
            if end is None or (msg.offset() or 0) >= end:
                continue
            records.append(Record.from_message(msg))
        if records:
            yield records


def read_to_end(settings: Settings, topics: Iterable[str], *, timeout_s: float = 120.0) -> Iterator[Record]:
    """Every record of ``topics`` up to the high watermarks at the call; no consumer group offsets are touched."""
    consumer = scan_consumer(settings)
    try:
        targets = {tp: high for tp, (low, high) in end_offsets(consumer, topics).items() if high > low}
        if not targets:
            return
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in targets])
        for records in read_assigned(consumer, targets, timeout_s=timeout_s):
            yield from records
    finally:
        consumer.close()
