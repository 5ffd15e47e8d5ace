"""Rebuild of the shared-state read models: empty them and replay ``architect.state.crdt`` from its beginning.

`architect projections rebuild` runs it after the event topics. The tables (crdt_states, active_sessions,
task_counters, tasks_in_flight, file_locks) are written by the projector's CRDT loop, not from events, so the
event rebuild leaves them alone; this empties them and their stored positions and replays the compacted topic
through the live loop's own write path (`CrdtStateStore.write`). The live loop may keep writing meanwhile:
every write is a merge, so whatever it adds in between is part of the join the replay builds anyway.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from services.projector.crdt_state_store import PROJECTION, CrdtStateStore
from shared.bus.reader import end_offsets, read_assigned, scan_consumer
from shared.bus.topics import STATE_CRDT
from shared.db.connection import connect
from shared.db.schema import migrate
from shared.settings import Settings

SHARED_STATE_TABLES = ("crdt_states", "active_sessions", "task_counters", "tasks_in_flight", "file_locks")


@dataclass(frozen=True)
class SharedStateRebuild:
    records: int
    objects: int
    seconds: float


def rebuild_shared_state(
    settings: Settings, url: str, *, batch_size: int = 2000, timeout_s: float = 600.0
) -> SharedStateRebuild:
    """Empty the shared-state tables and replay the CRDT topic into them; returns what was read."""
    started = time.perf_counter()
    with connect(url, statement_timeout_ms=0, autocommit=True) as conn:
        migrate(conn)
        with conn.transaction():
            conn.execute(f"TRUNCATE {', '.join(SHARED_STATE_TABLES)}")
            conn.execute("DELETE FROM projector_offsets WHERE projection = %s", (PROJECTION,))
    store = CrdtStateStore(url)
    consumer = scan_consumer(settings)
    records = 0
    try:
        targets = {tp: high for tp, (low, high) in end_offsets(consumer, [STATE_CRDT]).items() if high > low}
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in targets])
        for batch in read_assigned(consumer, targets, batch=batch_size, timeout_s=timeout_s) if targets else ():
            store.write(batch)
            records += len(batch)
        with connect(url) as conn:
            objects = conn.execute("SELECT count(DISTINCT object) FROM crdt_states").fetchone()
    finally:
        consumer.close()
        store.close()
    return SharedStateRebuild(records, int(objects[0]) if objects else 0, time.perf_counter() - started)
