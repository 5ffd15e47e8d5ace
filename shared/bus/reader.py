"""Read topics from their start to the end they had when reading began (for tools, not services)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from shared.bus.client_config import kafka_config
from shared.bus.record import Record
from shared.settings import Settings


def read_to_end(
    settings: Settings,
    topics: Iterable[str],
    *,
    timeout_s: float = 120.0,
    start_offsets: dict[tuple[str, int], int] | None = None,
) -> Iterator[Record]:
    """Every record of ``topics`` up to the high watermarks at the call; no consumer group offsets are touched."""
    consumer = Consumer(
        kafka_config(settings)
        | {
            "group.id": f"architect-reader-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        }
    )
    try:
        metadata = consumer.list_topics(timeout=30)
        remaining: dict[tuple[str, int], int] = {}
        assignment = []
        for topic in topics:
            if topic not in metadata.topics:
                continue
            for partition in metadata.topics[topic].partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
                start = (start_offsets or {}).get((topic, partition), OFFSET_BEGINNING)
                if high > max(low, start if start >= 0 else low):
                    remaining[(topic, partition)] = high
                    assignment.append(TopicPartition(topic, partition, start))
        if not assignment:
            return
        consumer.assign(assignment)
        deadline = time.monotonic() + timeout_s
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read to the end of {sorted(remaining)} in {timeout_s:.0f}s")
            for msg in consumer.consume(1000, 0.5):
                if msg.error() is not None:
                    continue
                tp = (msg.topic() or "", msg.partition() or 0)
                end = remaining.get(tp)
                if end is None or (msg.offset() or 0) >= end:
                    continue
                if (msg.offset() or 0) + 1 >= end:
                    del remaining[tp]
                yield Record.from_message(msg)
    finally:
        consumer.close()
