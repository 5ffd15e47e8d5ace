"""A service's own state, kept in a compacted topic (its changelog) and loaded back on start.

Write-through: ``put``/``delete`` mark keys dirty, ``flush`` publishes them, and the consumer loop flushes the
producer before committing offsets, so the state on the topic is never behind the offsets. After a crash the
service reloads the state and re-processes the events after its last commit; its handlers are idempotent.

Values are kept as the JSON bytes the topic holds once flushed (or loaded), and decoded when read (services
read their state when they restore it). A state of tens of thousands of keys (the assigner's finished tasks)
then costs the cycle collector nothing, where as dicts each full collection walked every one of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shared.bus.producer import EventProducer
from shared.bus.reader import read_to_end
from shared.bus.table_values import decode_value, encode_value
from shared.settings import Settings

_DELETED = object()


class CompactedState:
    """A JSON document per key, replicated through ``topic`` (one partition, cleanup.policy=compact)."""

    def __init__(self, settings: Settings, topic: str, producer: EventProducer) -> None:
        self._settings = settings
        self._topic = topic
        self._producer = producer
        #: Each key's value: its JSON bytes, or the value itself while it waits for a flush.
        self._values: dict[str, bytes | Any] = {}
        self._dirty: dict[str, object] = {}

    def load(self, timeout_s: float = 120.0) -> int:
        """Read the changelog to its end; the last value per key wins and tombstones delete. Returns key count.

        Changes not yet flushed are dropped: after an aborted transaction the state is what Kafka committed, and a
        later transaction must not commit the aborted one's changes."""
        self._values.clear()
        self._dirty.clear()
        for record in read_to_end(self._settings, [self._topic], timeout_s=timeout_s):
            if record.key is None:
                continue
            key = record.key.decode()
            if record.value is None:
                self._values.pop(key, None)
            else:
                self._values[key] = record.value
        return len(self._values)

    def get(self, key: str) -> dict[str, Any] | None:
        return _decoded(self._values.get(key))

    def items(self, prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
        for key, value in self._values.items():
            if key.startswith(prefix):
                yield key, _decoded(value)

    def put(self, key: str, value: dict[str, Any]) -> None:
        self._values[key] = value
        self._dirty[key] = value

    def delete(self, key: str) -> None:
        self._values.pop(key, None)
        self._dirty[key] = _DELETED

    def flush(self) -> None:
        """Publish the keys changed since the last flush (delivery is confirmed by the producer's flush)."""
        for key, value in self._dirty.items():
            payload = None if value is _DELETED else encode_value(value)
            self._producer.publish_raw(self._topic, key.encode(), payload, event_type="state")
            if payload is not None and self._values.get(key) is value:
                self._values[key] = payload
        self._dirty.clear()


def _decoded(value: Any) -> Any:
    return decode_value(value) if isinstance(value, bytes) else value
