"""Publish a realistic event mix to Architect's topics fast, keeping the rows the projector would write.

Envelopes are encoded once and produced as bytes with the settings of ``shared.bus.producer.EventProducer``
(acks=all, idempotent, lz4, linger 5 ms) and the same headers, without its per-event tracing span. The
``events``-table row of every event is kept in memory, its partition and offset filled from the delivery report,
so a raw COPY of exactly what the rebuild writes can be timed against it.
"""

from __future__ import annotations

import gc
import random
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from bench.event_mix import MixShape, event_stream
from shared.bus.client_config import kafka_config
from shared.events.catalogue import spec_for
from shared.events.codec import encode
from shared.settings import Settings

Progress = Callable[[int, int], None]


@dataclass
class PublishedEvents:
    """What was published: per event its ``events`` row without position, and the position Kafka gave it."""

    heads: list[tuple[Any, ...]]
    topics: list[str]
    bodies: list[str]
    partitions: array
    offsets: array
    value_bytes: int = 0
    failed: int = 0
    seconds: float = 0.0

    def __len__(self) -> int:
        return len(self.heads)

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Every ``events`` row, in the column order of ``services.projector.store.EVENT_COLUMNS``."""
        for index, head in enumerate(self.heads):
            yield (*head, self.topics[index], self.partitions[index], self.offsets[index], self.bodies[index])

    def _delivered(self, index: int, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.failed += 1
            return
        self.partitions[index] = msg.partition()
        self.offsets[index] = msg.offset()


def publish_events(
    settings: Settings, count: int, *, seed: int, shape: MixShape = MixShape(), progress: Progress | None = None
) -> PublishedEvents:
    """Produce ``count`` events of the mix to their catalogued topics and wait until all are acknowledged.

    The cycle collector is paused meanwhile: its full passes over the millions of rows kept would dominate.
    """
    gc.disable()
    try:
        return _publish(settings, count, seed=seed, shape=shape, progress=progress)
    finally:
        gc.enable()


def _publish(
    settings: Settings, count: int, *, seed: int, shape: MixShape, progress: Progress | None
) -> PublishedEvents:
    producer = Producer(
        kafka_config(settings)
        | {
            "client.id": "bench-publisher",
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
            "delivery.timeout.ms": 120_000,
        }
    )
    published = PublishedEvents([], [], [], array("i", bytes(4 * count)), array("q", bytes(8 * count)))
    started = time.perf_counter()
    for index, e in enumerate(event_stream(random.Random(seed), count, shape)):
        value = encode(e)
        topic = spec_for(e.type).topic
        published.heads.append(
            (e.event_id, e.type, e.version, e.occurred_at, e.producer, e.stream_id, e.correlation_id, e.causation_id)
        )
        published.topics.append(topic)
        published.bodies.append(value.decode())
        published.value_bytes += len(value)
        headers = [(k, v.encode()) for k, v in e.header_metadata().items()]
        on_delivery = partial(published._delivered, index)
        while True:
            try:
                producer.produce(topic, value, e.stream_id.encode(), headers=headers, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        if index % 1000 == 0:
            producer.poll(0)
            if progress is not None:
                progress(index, count)
    remaining = producer.flush(300)
    published.seconds = time.perf_counter() - started
    if progress is not None:
        progress(count, count)
    if remaining or published.failed:
        raise RuntimeError(f"{remaining} event(s) undelivered and {published.failed} failed")
    return published
