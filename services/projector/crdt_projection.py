"""What the shared CRDT objects look like as read-model rows (pure).

Each function takes an object's state merged over every replica and returns the full set of rows it stands
for; the store replaces the previous rows of that object with them, so the tables always equal the merged state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.locks.lock_table import FILE_LOCKS
from shared.crdt import fleet_state
from shared.crdt.g_counter import GCounter
from shared.crdt.lww_map import LWWMap
from shared.crdt.or_set import ORSet
from shared.crdt.pn_counter import PNCounter


@dataclass(frozen=True)
class ObjectRows:
    """The rows of one object: ``table`` where ``match`` (column -> value; empty: the whole table) is replaced."""

    table: str
    match: Mapping[str, Any]
    rows: tuple[Mapping[str, Any], ...]


def _time(ms: Any) -> datetime | None:
    return datetime.fromtimestamp(int(ms) / 1000, UTC) if isinstance(ms, int | float) and ms > 0 else None


def sessions_rows(sessions: ORSet) -> ObjectRows:
    rows = []
    for agent_id in sorted(sessions.elements):
        tags = sorted(sessions.tags(agent_id))
        parsed = [fleet_state.parse_session_tag(tag) for tag in tags]
        started = [ms for _, ms in parsed if ms is not None]
        rows.append(
            {
                "agent_id": agent_id,
                "sessions": tags,
                "runtimes": sorted({runtime for runtime, _ in parsed if runtime}),
                "started_at": _time(max(started)) if started else None,
            }
        )
    return ObjectRows("active_sessions", {}, tuple(rows))


def counter_rows(kind: str, name: str, counter: GCounter) -> ObjectRows:
    row = {"kind": kind, "name": name, "completed": counter.value, "by_replica": dict(counter.counts)}
    return ObjectRows("task_counters", {"kind": kind, "name": name}, (row,))


def in_flight_rows(agent_id: str, counter: PNCounter) -> ObjectRows:
    """An agent's task attempts in flight (started minus ended), and each runtime replica's share."""
    replicas = counter.increments.counts.keys() | counter.decrements.counts.keys()
    by_replica = {r: counter.increments.count_of(r) - counter.decrements.count_of(r) for r in sorted(replicas)}
    row = {
        "agent_id": agent_id,
        "in_flight": counter.value,
        "started": counter.increments.value,
        "ended": counter.decrements.value,
        "by_replica": by_replica,
    }
    return ObjectRows("tasks_in_flight", {"agent_id": agent_id}, (row,))


def lock_rows(grants: LWWMap) -> ObjectRows:
    rows = []
    for path, lease in sorted(grants.items().items()):
        if not isinstance(lease, Mapping):
            continue
        rows.append(
            {
                "path": path,
                "holder": lease.get("holder"),
                "request_id": lease.get("request_id"),
                "task_id": lease.get("task_id"),
                "granted_at": _time(lease.get("granted_at_ms")),
                "expires_at": _time(lease.get("expires_at_ms")),
                "denied": list(lease.get("denied", [])),
            }
        )
    return ObjectRows("file_locks", {}, tuple(rows))


def rows_for(object_name: str, merged: Any) -> ObjectRows | None:
    """The read-model rows of a known object, or None for objects no read model shows."""
    if object_name == fleet_state.SESSIONS and isinstance(merged, ORSet):
        return sessions_rows(merged)
    if object_name == FILE_LOCKS and isinstance(merged, LWWMap):
        return lock_rows(merged)
    counter = fleet_state.parse_counter(object_name)
    if counter is not None and isinstance(merged, GCounter):
        return counter_rows(*counter, merged)
    agent_id = fleet_state.parse_in_flight(object_name)
    if agent_id is not None and isinstance(merged, PNCounter):
        return in_flight_rows(agent_id, merged)
    return None
