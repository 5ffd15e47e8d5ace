"""A service's compacted state: values read back as written, published on flush, kept as untracked bytes."""

from __future__ import annotations

import gc
import json
from typing import Any

from shared.bus.state_store import CompactedState
from shared.settings import Settings


class Published:
    """Stands in for the producer: what ``flush`` hands it."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes, bytes | None]] = []

    def publish_raw(self, topic: str, key: bytes, value: bytes | None, **_: Any) -> None:
        self.records.append((topic, key, value))


def state() -> tuple[CompactedState, Published]:
    published = Published()
    return CompactedState(Settings(), "svc.state", published), published  # type: ignore[arg-type]


def test_values_read_back_before_and_after_a_flush() -> None:
    store, published = state()
    store.put("task/t1", {"state": "pending", "attempt": 1})
    store.put("task/t2", {"finished_at": 12.5})
    store.put("registry", {"agents": []})
    assert store.get("task/t1") == {"state": "pending", "attempt": 1}
    store.flush()
    assert store.get("task/t1") == {"state": "pending", "attempt": 1}
    assert dict(store.items("task/")) == {
        "task/t1": {"state": "pending", "attempt": 1},
        "task/t2": {"finished_at": 12.5},
    }
    assert [(key, json.loads(value)) for _, key, value in published.records] == [
        (b"task/t1", {"state": "pending", "attempt": 1}),
        (b"task/t2", {"finished_at": 12.5}),
        (b"registry", {"agents": []}),
    ]
    assert store.get("missing") is None


def test_flushed_values_are_bytes_the_collector_does_not_track() -> None:
    store, _ = state()
    for n in range(100):
        store.put(f"task/t{n}", {"finished_at": float(n)})
    store.flush()
    assert all(isinstance(value, bytes) and not gc.is_tracked(value) for value in store._values.values())


def test_a_value_changed_before_its_flush_is_published_as_changed() -> None:
    store, published = state()
    anchors = {"a1": [1]}
    store.put("anchors", anchors)
    anchors["a2"] = [2]  # the flush publishes what the value is then, as it always did
    store.flush()
    assert json.loads(published.records[-1][2]) == {"a1": [1], "a2": [2]}
    assert store.get("anchors") == {"a1": [1], "a2": [2]}


def test_deletes_publish_tombstones_and_a_put_after_a_flush_replaces_the_bytes() -> None:
    store, published = state()
    store.put("k", {"v": 1})
    store.flush()
    store.put("k", {"v": 2})
    assert store.get("k") == {"v": 2}
    store.delete("k")
    store.flush()
    assert store.get("k") is None and published.records[-1] == ("svc.state", b"k", None)
