"""Every event published on some topics from the moment the tap opens, decoded and kept in memory.

Tests wait on it instead of re-reading whole topics at each poll. It reads committed records only (the
default ``read_committed`` isolation), so events of transactions aborted by a SIGKILL never show up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from shared.bus.reader import end_offsets, scan_consumer
from shared.events.codec import DecodeError, decode
from shared.events.envelope import Envelope
from shared.settings import Settings


def goal_of(event: Envelope[Any]) -> str | None:
    """The goal an event is about, if it names one."""
    return getattr(event.payload, "goal_id", None)


def _end_offsets_once_led(consumer: Consumer, topics: list[str], timeout_s: float = 30.0) -> dict[Any, Any]:
    """Watermarks of ``topics``; just-created topics may need a moment to elect their partition leaders."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return end_offsets(consumer, topics)
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


class EventTap:
    def __init__(self, settings: Settings, topics: Iterable[str]) -> None:
        self._consumer = scan_consumer(settings, {"enable.partition.eof": False})
        ends = _end_offsets_once_led(self._consumer, list(topics))
        self._consumer.assign([TopicPartition(topic, part, high) for (topic, part), (_low, high) in ends.items()])
        self._events: list[Envelope[Any]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="e2e-event-tap", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                for message in self._consumer.consume(500, 0.2):
                    if message.error() is not None:
                        continue
                    try:
                        event = decode(message.value(), message.key())
                    except DecodeError:
                        continue  # foreign or malformed records are not ours to judge here
                    with self._lock:
                        self._events.append(event)
        finally:
            self._consumer.close()

    def events(
        self,
        *,
        goal_id: str | None = None,
        types: Iterable[str] = (),
        where: Callable[[Envelope[Any]], bool] | None = None,
    ) -> list[Envelope[Any]]:
        """Events seen so far, in arrival order, optionally only a goal's, of some types, matching ``where``."""
        wanted = frozenset(types)
        with self._lock:
            seen = list(self._events)
        return [
            event
            for event in seen
            if (goal_id is None or goal_of(event) == goal_id)
            and (not wanted or event.type in wanted)
            and (where is None or where(event))
        ]

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(10)
