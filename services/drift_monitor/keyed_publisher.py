"""Publishing from faust to the partition the rest of Architect would choose for the same key.

Services publish with confluent-kafka, whose default partitioner puts a key in partition
``crc32(key) % partitions``; faust (aiokafka) would hash with murmur2 and put the same agent's events in a
different partition. The drift monitor keeps per-agent state in a table co-partitioned with
``architect.drift.events``, where the agent runtime publishes resets, so it must agree with confluent.
"""

from __future__ import annotations

import zlib
from typing import Any

import faust
from opentelemetry.trace import SpanKind

from shared import tracing
from shared.bus.faust_stream import raw_topic
from shared.events.codec import encode, spec_for
from shared.events.envelope import Envelope


def partition_for(key: bytes, partitions: int) -> int:
    """The partition librdkafka's default (consistent_random) partitioner picks for a non-empty key."""
    if partitions < 1:
        raise ValueError(f"partitions must be positive, got {partitions}")
    return zlib.crc32(key) % partitions


class KeyedPublisher:
    """Like ``FaustPublisher``, but every record goes to the partition confluent-kafka would choose."""

    def __init__(self, app: faust.App, partitions: int) -> None:
        self._app = app
        self._partitions = partitions
        self._topics: dict[str, faust.TopicT] = {}

    async def publish(self, envelope: Envelope[Any]) -> None:
        name = spec_for(envelope.type).topic
        topic = self._topics.setdefault(name, raw_topic(self._app, name))
        key = envelope.stream_id.encode()
        with tracing.tracer().start_as_current_span(
            f"publish {envelope.type}", kind=SpanKind.PRODUCER, attributes=tracing.event_attributes(envelope, name)
        ):
            headers = [(k, v.encode()) for k, v in envelope.header_metadata().items()]
            tracing.inject(headers)
            await topic.send(
                key=key, value=encode(envelope), headers=headers, partition=partition_for(key, self._partitions)
            )
