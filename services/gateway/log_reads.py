"""What the gateway reads from Kafka itself rather than from the read models: one dead letter with its original
headers (for a re-drive), and a goal's events replayed from the event topics (the log, not Postgres)."""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import KafkaError, TopicPartition

from shared.bus.dead_letters import DeadLetter, redriven_offset
from shared.bus.reader import end_offsets, read_to_end, scan_consumer
from shared.bus.record import Record
from shared.bus.topics import DEAD_LETTERS, EVENT_TOPICS
from shared.events.causality import timeline
from shared.events.codec import DecodeError, decode
from shared.events.envelope import Envelope
from shared.settings import Settings

#: The dead-letter topic has one partition (see the topic catalogue), so an offset names one letter.
DEAD_LETTER_PARTITION = 0


def dead_letter_at(settings: Settings, offset: int, *, timeout_s: float = 10.0) -> DeadLetter | None:
    """The dead letter stored at ``offset``, or None when the topic has no record there (any more)."""
    consumer = scan_consumer(settings)
    try:
        low, high = end_offsets(consumer, [DEAD_LETTERS]).get((DEAD_LETTERS, DEAD_LETTER_PARTITION), (0, 0))
        if not low <= offset < high:
            return None
        consumer.assign([TopicPartition(DEAD_LETTERS, DEAD_LETTER_PARTITION, offset)])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    return None
                continue
            if msg.offset() == offset:
                record = Record.from_message(msg)
                return None if redriven_offset(record) is not None else DeadLetter.from_record(record)
            if (msg.offset() or 0) > offset:  # a commit marker stood at the offset
                return None
        raise TimeoutError(f"could not read offset {offset} of {DEAD_LETTERS} in {timeout_s:g}s")
    finally:
        consumer.close()


def replay_goal(settings: Settings, goal_id: str, *, timeout_s: float = 30.0) -> list[Envelope[Any]]:
    """Every event correlated with ``goal_id`` on the event topics, in causal-timeline order (duplicates dropped).

    Records that do not decode are skipped: they were dead-lettered when they were first consumed.
    """
    events = []
    for record in read_to_end(settings, EVENT_TOPICS, timeout_s=timeout_s):
        try:
            envelope = decode(record.value, record.key)
        except DecodeError:
            continue
        if envelope.correlation_id == goal_id:
            events.append(envelope)
    return timeline(events)
