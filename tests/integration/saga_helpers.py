"""What the saga integration tests share: an event collector, the execution log, and waiting with a deadline."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from confluent_kafka import KafkaException, TopicPartition

from shared.bus.reader import end_offsets, scan_consumer
from shared.events.codec import DecodeError, decode
from shared.events.envelope import Envelope
from shared.infra.background_process import log_tail
from shared.infra.stack import LocalStack
from shared.settings import Settings

T = TypeVar("T")


class Collector:
    """Every event published on ``topics`` after it opens, decoded, kept in arrival order."""

    def __init__(self, settings: Settings, topics: Iterable[str]) -> None:
        self._consumer = scan_consumer(settings, {"enable.partition.eof": False})
        ends = self._end_offsets_once_led(list(topics))
        self._consumer.assign([TopicPartition(topic, part, high) for (topic, part), (_low, high) in ends.items()])
        self._events: list[Envelope[Any]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="saga-collector", daemon=True)
        self._thread.start()

    def _end_offsets_once_led(self, topics: list[str], timeout_s: float = 30.0) -> dict[Any, Any]:
        """Watermarks of ``topics``; just-created topics may need a moment to elect their partition leaders."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return end_offsets(self._consumer, topics)
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                for message in self._consumer.consume(500, 0.2):
                    if message.error() is not None:
                        continue
                    try:
                        event = decode(message.value(), message.key())
                    except DecodeError:
                        continue
                    with self._lock:
                        self._events.append(event)
        finally:
            self._consumer.close()

    def events(self, stream_id: str, *types: str) -> list[Envelope[Any]]:
        """A saga's events (its stream), optionally only some types, each event id once."""
        with self._lock:
            seen = list(self._events)
        unique: dict[Any, Envelope[Any]] = {}
        for event in seen:
            if event.stream_id == stream_id and (not types or event.type in types):
                unique.setdefault(event.event_id, event)
        return list(unique.values())

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(10)


def executions(log: Path, saga_id: str) -> list[dict[str, Any]]:
    """Every task execution the agents recorded for one saga, in order."""
    if not log.exists():
        return []
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [line for line in lines if line["saga_id"] == saga_id]


def wait_until(
    stack: LocalStack, what: str, check: Callable[[], T | None], timeout_s: float, *, services_up: bool = True
) -> T:
    """Poll ``check`` until it returns something truthy; a service that died fails the test with its log
    (``services_up=False`` while the test itself has killed one)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if services_up:
            stack.check()
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            tails = "\n".join(
                f"----- {name} -----\n{log_tail(stack.log_dir / f'{name}.log', 25)}" for name in stack.names()
            )
            raise AssertionError(f"timed out after {timeout_s:g}s waiting for {what}\n{tails}")
        time.sleep(0.2)
