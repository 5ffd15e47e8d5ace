"""How an agent's record is laid out in the drift monitor's table: the baseline under a key of its own.

An agent's baseline holds the embeddings of its baseline interactions (20 x 512 floats by default, ~90 KB of
JSON) and changes only when a baseline is established or the agent is reset, while the rest of the record
(score, detector, memory, dedupe window: a few KB) changes with every sample. Every write to the table is a
record in its changelog, which a restarted worker reads back before it handles a sample; so the record stored
under the agent id names its baseline instead of holding it, and the baseline is written under
``baseline_key(agent_id)`` only when it changes. ``split_record`` and ``join_record`` are inverses: the
monitor's decisions (``monitor.decide``) see the whole record as before.

Crash safety: both keys of an agent live in one table and the service writes both while handling an event of
that agent, so they go to the same changelog partition, in order. The baseline is written before the record
that names it and deleted only after a record that no longer names it, so whatever prefix of the writes a
crash leaves, a stored record never names a baseline that is not there (or an older one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Appended to an agent id to make its baseline's key. Envelopes with a NUL in any string are refused at
#: decode, so no agent id (a table key) contains one and the two kinds of keys cannot collide.
BASELINE_KEY_SUFFIX = "\x00baseline"
#: Set in a stored record whose baseline is stored under ``baseline_key``.
BASELINE_STORED = "baseline_stored"


def baseline_key(agent_id: str) -> str:
    """The table key of ``agent_id``'s baseline."""
    return agent_id + BASELINE_KEY_SUFFIX


def split_record(record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """``record`` (``AgentRecord.to_dict()``) as stored: the record without its baseline, and the baseline
    (None when the agent has none yet)."""
    drift = record["drift"]
    baseline = drift.get("baseline")
    if baseline is None:
        return {**record, BASELINE_STORED: False}, None
    return {**record, "drift": {**drift, "baseline": None}, BASELINE_STORED: True}, baseline


def join_record(stored: dict[str, Any] | None, baseline: dict[str, Any] | None) -> dict[str, Any] | None:
    """Inverse of ``split_record``: the whole record from the stored one and the baseline under
    ``baseline_key`` (ignored unless the record names it). A record stored before the split holds its
    baseline itself and is returned as it is. A record naming a baseline that is not there (which the write
    order rules out) comes back without one: the agent then builds a new baseline."""
    if stored is None:
        return None
    record = {key: value for key, value in stored.items() if key != BASELINE_STORED}
    if not stored.get(BASELINE_STORED) or baseline is None:
        return record
    return {**record, "drift": {**record["drift"], "baseline": baseline}}


def names_baseline(stored: dict[str, Any] | None) -> bool:
    """Whether ``stored`` (as kept in the table) has its baseline under ``baseline_key``."""
    return stored is not None and bool(stored.get(BASELINE_STORED))


@dataclass(frozen=True)
class Loaded:
    """An agent's whole record as read from the table (None: no record), and its baseline as stored there."""

    record: dict[str, Any] | None
    baseline: dict[str, Any] | None
    baseline_missing: bool = False
    """The stored record names a baseline the table does not hold (the record came back without one)."""


def load(table: Mapping[str, Any], agent_id: str) -> Loaded:
    """Read ``agent_id``'s record from ``table`` (the drift monitor's table, or any mapping)."""
    stored = table.get(agent_id)
    baseline = table.get(baseline_key(agent_id)) if names_baseline(stored) else None
    missing = names_baseline(stored) and baseline is None
    return Loaded(join_record(stored, baseline), baseline, missing)


def writes(agent_id: str, loaded: Loaded, record: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None]]:
    """The table writes that store ``record`` (``AgentRecord.to_dict()``) over ``loaded``, in order; a value
    of None deletes its key. The baseline is written only when it changed, before the record naming it; a
    baseline no longer named is deleted after the record."""
    stored, baseline = split_record(record)
    key = baseline_key(agent_id)
    if baseline is not None:
        changed = [(key, baseline)] if baseline != loaded.baseline else []
        return [*changed, (agent_id, stored)]
    return [(agent_id, stored), *([(key, None)] if loaded.baseline is not None else [])]
