"""Consumed positions kept in a service's compacted state: an ``OffsetStore`` for ``ConsumerLoop``.

One key per partition read, ``offsets/<topic>:<partition>`` -> ``{"next": <offset>}``, written beside the rest of
the service's state, so that a batch's transaction commits its positions and its effects together.
"""

from __future__ import annotations

from collections.abc import Sequence

from confluent_kafka import TopicPartition

from shared.bus.state_store import CompactedState

#: The prefix of the position keys in the state.
OFFSETS_PREFIX = "offsets/"


class StatePositions:
    """The positions of one ``CompactedState``, as it holds them (flushed and committed with it)."""

    def __init__(self, state: CompactedState) -> None:
        self._state = state

    def positions(self) -> dict[tuple[str, int], int]:
        """Where to resume each partition read so far."""
        found = {}
        for key, value in self._state.items(OFFSETS_PREFIX):
            topic, _, partition = key.removeprefix(OFFSETS_PREFIX).rpartition(":")
            found[(topic, int(partition))] = int(value["next"])
        return found

    def store_positions(self, offsets: Sequence[TopicPartition]) -> None:
        """A batch's next offsets, into the state its transaction commits."""
        for tp in offsets:
            self._state.put(f"{OFFSETS_PREFIX}{tp.topic}:{tp.partition}", {"next": tp.offset})
