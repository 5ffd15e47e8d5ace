"""How an agent's record is laid out in the drift monitor's table: its baseline samples under keys of their own.

An agent's baseline holds its first interactions with the embedding of each (20 x 512 floats by default, ~90 KB
of JSON); they are collected one per sample, then kept unchanged until the agent is reset, while the rest of
the record (score, detector, memory, dedupe window: a few KB) changes with every sample. Every write to the
table is a record in its changelog, which a restarted worker reads back before it handles a sample. So each
baseline interaction (its sample and embedding: an *item*) is written once, under ``item_key(agent_id, i)``,
when it is collected, and the record stored under the agent id only counts them: ``{"items": n,
"habit_share": h}`` for an established baseline, ``n`` for the interactions collected so far. ``split_record``
and ``join_record`` are inverses: the monitor's decisions (``monitor.decide``) see the whole record as before.

Crash safety: all keys of an agent live in one table and the service writes them while handling an event of
that agent, so they go to the same changelog partition, in order; an item is written before the record that
counts it. Whatever prefix of the writes a crash leaves, a stored record counts only items that are there, as
they were when it was written: an item is rewritten only after a record no longer counting it (a reset, then
a new baseline collected from index 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Set in a stored record whose baseline items are stored under ``item_key``. (A record stored without it
#: holds its baseline and collected interactions itself, as the drift monitor stored them before.)
ITEMS_STORED = "items_stored"


def item_key(agent_id: str, index: int) -> str:
    """The table key of ``agent_id``'s baseline item ``index``. Envelopes with a NUL in any string are refused
    at decode, so no agent id (a table key) contains one and the two kinds of keys cannot collide."""
    return f"{agent_id}\x00item\x00{index}"


def split_record(record: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``record`` (``AgentRecord.to_dict()``) as stored: the record counting its baseline items, and the items
    (``{"sample": ..., "embedding": ...}``, the baseline's or those collected so far), in order."""
    drift = record["drift"]
    baseline = drift.get("baseline")
    collected = list(drift.get("collected", []))
    if baseline is None:
        return {**record, "drift": {**drift, "collected": len(collected)}, ITEMS_STORED: True}, collected
    if collected:
        raise ValueError("a record holds an established baseline and interactions collected for another")
    items = [
        {"sample": sample, "embedding": embedding}
        for sample, embedding in zip(baseline["samples"], baseline["embeddings"], strict=True)
    ]
    counted = {"items": len(items), "habit_share": baseline["habit_share"]}
    return {**record, "drift": {**drift, "baseline": counted, "collected": 0}, ITEMS_STORED: True}, items


def items_counted(stored: Mapping[str, Any] | None) -> int:
    """How many items ``stored`` (as kept in the table) counts under ``item_key``."""
    if stored is None or not stored.get(ITEMS_STORED):
        return 0
    drift = stored["drift"]
    return int(drift["baseline"]["items"]) if drift.get("baseline") is not None else int(drift.get("collected", 0))


def join_record(stored: dict[str, Any] | None, items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Inverse of ``split_record``: the whole record from the stored one and its items (``items_counted`` of
    them). A record stored before items existed holds its baseline itself and is returned as it is."""
    if stored is None:
        return None
    if not stored.get(ITEMS_STORED):
        return stored
    record = {key: value for key, value in stored.items() if key != ITEMS_STORED}
    drift = dict(record["drift"])
    counted = drift.get("baseline")
    if counted is None:
        drift["collected"] = list(items)
    else:
        drift["baseline"] = {
            "samples": [item["sample"] for item in items],
            "embeddings": [item["embedding"] for item in items],
            "habit_share": counted["habit_share"],
        }
        drift["collected"] = []
    return {**record, "drift": drift}


@dataclass(frozen=True)
class Loaded:
    """An agent's whole record as read from the table (None: no record), and its items as stored there."""

    record: dict[str, Any] | None
    items: list[dict[str, Any]] = field(default_factory=list)
    items_missing: bool = False
    """The stored record counts items the table does not hold: it came back without a baseline, and with
    nothing collected, so the agent builds a new baseline."""


def load(table: Mapping[str, Any], agent_id: str) -> Loaded:
    """Read ``agent_id``'s record from ``table`` (the drift monitor's table, or any mapping)."""
    stored = table.get(agent_id)
    items = [table.get(item_key(agent_id, index)) for index in range(items_counted(stored))]
    if any(item is None for item in items):
        assert stored is not None
        drift = {**stored["drift"], "baseline": None, "collected": 0}
        return Loaded(join_record({**stored, "drift": drift}, []), [], items_missing=True)
    present = [item for item in items if item is not None]
    return Loaded(join_record(stored, present), present)


def writes(agent_id: str, loaded: Loaded, record: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The table writes that store ``record`` (``AgentRecord.to_dict()``) over ``loaded``, in order: the
    items that are new or changed, then the record counting them."""
    stored, items = split_record(record)
    changed = [
        (item_key(agent_id, index), item)
        for index, item in enumerate(items)
        if index >= len(loaded.items) or loaded.items[index] != item
    ]
    return [*changed, (agent_id, stored)]
