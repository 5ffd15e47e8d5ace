"""Dead letters: the original bytes of a rejected record plus why and where it came from, in headers."""

from __future__ import annotations

import time
from dataclasses import dataclass

from shared.bus.producer import EventProducer
from shared.bus.record import Record
from shared.bus.topics import DEAD_LETTERS
from shared.metrics import EVENTS_DEAD_LETTERED

REASON = "dlq-reason"
ERROR = "dlq-error"
SOURCE_TOPIC = "dlq-source-topic"
SOURCE_PARTITION = "dlq-source-partition"
SOURCE_OFFSET = "dlq-source-offset"
CONSUMER_GROUP = "dlq-consumer-group"
FAILED_AT = "dlq-failed-at-ms"
REDRIVE_COUNT = "dlq-redrive-count"
#: On a marker record of the dead-letter topic (no value): the offset of the letter that was re-driven.
REDRIVEN_OFFSET = "dlq-redriven-offset"
DLQ_HEADERS = {REASON, ERROR, SOURCE_TOPIC, SOURCE_PARTITION, SOURCE_OFFSET, CONSUMER_GROUP, FAILED_AT}


@dataclass(frozen=True)
class DeadLetter:
    """A dead-letter record as read back from the topic."""

    offset: int
    reason: str
    error: str
    source_topic: str
    source_partition: int
    source_offset: int
    consumer_group: str
    failed_at_ms: int
    key: bytes | None
    value: bytes | None
    original_headers: list[tuple[str, bytes]]

    @classmethod
    def from_record(cls, record: Record) -> DeadLetter:
        meta = {k: (v or b"").decode(errors="replace") for k, v in record.headers if k in DLQ_HEADERS}
        return cls(
            offset=record.offset,
            reason=meta.get(REASON, "unknown"),
            error=meta.get(ERROR, ""),
            source_topic=meta.get(SOURCE_TOPIC, ""),
            source_partition=int(meta.get(SOURCE_PARTITION, "-1")),
            source_offset=int(meta.get(SOURCE_OFFSET, "-1")),
            consumer_group=meta.get(CONSUMER_GROUP, ""),
            failed_at_ms=int(meta.get(FAILED_AT, "0")),
            key=record.key,
            value=record.value,
            original_headers=[(k, v or b"") for k, v in record.headers if k not in DLQ_HEADERS],
        )


def dead_letter(producer: EventProducer, record: Record, *, reason: str, error: str, group: str) -> None:
    """Send ``record`` to the dead-letter topic (delivery confirmed by the caller's next flush)."""
    headers = [(k, v or b"") for k, v in record.headers if k not in DLQ_HEADERS]
    headers += [
        (REASON, reason.encode()),
        (ERROR, error[:4000].encode()),
        (SOURCE_TOPIC, record.topic.encode()),
        (SOURCE_PARTITION, str(record.partition).encode()),
        (SOURCE_OFFSET, str(record.offset).encode()),
        (CONSUMER_GROUP, group.encode()),
        (FAILED_AT, str(int(time.time() * 1000)).encode()),
    ]
    producer.publish_raw(DEAD_LETTERS, record.key, record.value, headers, event_type="dead_letter")
    EVENTS_DEAD_LETTERED.labels(group, record.topic, reason).inc()


def redriven_offset(record: Record) -> int | None:
    """The letter a re-drive marker names, or None when ``record`` is a dead letter itself."""
    value = record.header(REDRIVEN_OFFSET)
    return None if value is None else int(value)


def redrive(producer: EventProducer, letter: DeadLetter) -> None:
    """Publish a dead letter's original bytes back to its source topic, counting re-drives in a header, and a
    marker on the dead-letter topic naming the letter, so the read model shows it was re-driven."""
    count = next((int(v or b"0") for k, v in letter.original_headers if k == REDRIVE_COUNT), 0)
    headers = [(k, v) for k, v in letter.original_headers if k != REDRIVE_COUNT]
    headers.append((REDRIVE_COUNT, str(count + 1).encode()))
    producer.publish_raw(letter.source_topic, letter.key, letter.value, headers, event_type="redrive")
    marker = [(REDRIVEN_OFFSET, str(letter.offset).encode())]
    producer.publish_raw(DEAD_LETTERS, letter.key, None, marker, event_type="redrive_marker")
