"""A background reader of the stack's topics for the recovery and saga benchmarks.

``EventWatch`` starts at the end the topics have when it opens (no history), reads committed records only and
hands each envelope (parsed JSON, not validated: the benchmark must not slow down to watch) to ``on_record``
with the record's Kafka timestamp in epoch seconds. It keeps reading across a broker restart.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from shared.bus.client_config import kafka_config
from shared.bus.reader import end_offsets
from shared.settings import Settings

OnRecord = Callable[[str, float, dict[str, Any]], None]


class EventWatch:
    """Reads ``topics`` in a thread from their current end, calling ``on_record(topic, at, envelope)``."""

    def __init__(self, settings: Settings, topics: Iterable[str], on_record: OnRecord) -> None:
        self._consumer = Consumer(
            kafka_config(settings)
            | {
                "group.id": f"bench-watch-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            }
        )
        self._on_record = on_record
        self._consumer.assign(self._ends(list(topics)))
        self._stopping = threading.Event()
        self.records = 0
        self._thread = threading.Thread(target=self._run, name="bench-event-watch", daemon=True)
        self._thread.start()

    def _ends(self, topics: list[str], timeout_s: float = 60.0) -> list[TopicPartition]:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                ends = end_offsets(self._consumer, topics)
                return [TopicPartition(topic, part, high) for (topic, part), (_low, high) in ends.items()]
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                for message in self._consumer.consume(1000, 0.2):
                    if message.error() is not None or not message.value():
                        continue
                    try:
                        envelope = json.loads(message.value())
                    except ValueError:
                        continue
                    if isinstance(envelope, dict):
                        self.records += 1
                        self._on_record(message.topic(), message.timestamp()[1] / 1000, envelope)
        finally:
            self._consumer.close()

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(10)
