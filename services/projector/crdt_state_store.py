"""The shared CRDT state topic (raw records, not envelopes) -> crdt_states and the tables of the fleet's objects.

One transaction per batch: each record's state is merged into its (object, replica) row, every object touched
is merged over all its replicas and its read-model rows replaced (see :mod:`.crdt_projection`), and the next
offsets are stored beside them; on (re)assignment the loop seeks to those offsets. Merging makes the tables
indifferent to order, duplicates and redelivery, like any other replica. A record that is not a CRDT state (or
whose state does not merge with the batch's earlier one of the same replica) is skipped with an error in the
log. The live loop has dead-lettered a record that does not decode already (``state_problem`` is its check:
once per batch, acknowledged before the position past it is stored); one that decodes but does not merge is
only logged (no type of today's can get there). Replicas skip such records too, with a warning. A stored state
that no longer decodes (a row kept by an earlier version with looser checks) is logged and treated as absent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from services.projector.crdt_projection import ObjectRows, rows_for
from shared.bus.record import Record
from shared.crdt.replication import CRDT_TYPES, BadCrdtRecord, decode_state, merged_states
from shared.db.connection import connect

log = logging.getLogger(__name__)
PROJECTION = "crdt-state"
JSON_COLUMNS = frozenset({"sessions", "runtimes", "by_replica", "denied"})
#: The dead-letter reason of a record on the CRDT topic that is not a CRDT state.
BAD_CRDT_STATE = "bad_crdt_state"


def state_problem(record: Record) -> tuple[str, str] | None:
    """Why a record on the CRDT topic is not a state to merge, as (dead-letter reason, error); None if it is one
    (or a tombstone)."""
    if record.value is None:
        return None
    try:
        decode_state(record.value)
    except BadCrdtRecord as error:
        return BAD_CRDT_STATE, str(error)
    return None


class CrdtStateStore:
    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: psycopg.Connection | None = None

    @property
    def conn(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = connect(self._url)
        return self._conn

    def positions(self) -> dict[tuple[str, int], int]:
        with self.conn.transaction():
            rows = self.conn.execute(
                "SELECT topic, partition, next_offset FROM projector_offsets WHERE projection = %s", (PROJECTION,)
            ).fetchall()
        return {(t, p): o for t, p, o in rows}

    def write(self, records: Sequence[Record]) -> None:
        states: dict[tuple[str, str], Any] = {}
        for record in records:
            if record.value is None:
                continue
            try:
                name, replica, crdt = decode_state(record.value)
                current = states.get((name, replica))
                if current is not None and type(current) is type(crdt):  # a replica's later type replaces it
                    crdt = merged_states(name, current, crdt, replica)
            except BadCrdtRecord as error:
                log.error(
                    "crdt projection: skipping %s[%d]@%d: %s", record.topic, record.partition, record.offset, error
                )
                continue
            states[(name, replica)] = crdt
        ends: dict[tuple[str, int], int] = {}
        for r in records:
            ends[(r.topic, r.partition)] = max(ends.get((r.topic, r.partition), -1), r.offset + 1)
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                for (name, replica), crdt in states.items():
                    self._store_state(cur, name, replica, crdt)
                for name in sorted({name for name, _ in states}):
                    merged = self._merged(cur, name)
                    rows = rows_for(name, merged) if merged is not None else None
                    if rows is not None:
                        self._replace(cur, rows)
                for (topic, partition), next_offset in ends.items():
                    cur.execute(
                        "INSERT INTO projector_offsets (projection, topic, partition, next_offset) "
                        "VALUES (%s, %s, %s, %s) ON CONFLICT (projection, topic, partition) "
                        "DO UPDATE SET next_offset = GREATEST(projector_offsets.next_offset, EXCLUDED.next_offset)",
                        (PROJECTION, topic, partition, next_offset),
                    )
        except psycopg.OperationalError:
            self.close()
            raise

    @staticmethod
    def _store_state(cur: psycopg.Cursor[Any], name: str, replica: str, crdt: Any) -> None:
        row = cur.execute(
            "SELECT crdt_type, state FROM crdt_states WHERE object = %s AND replica = %s FOR UPDATE", (name, replica)
        ).fetchone()
        kind = type(crdt).__name__
        stored = _stored_state(name, replica, kind, row[1]) if row is not None and row[0] == kind else None
        if stored is not None:
            try:
                crdt = merged_states(name, stored, crdt, replica)
            except BadCrdtRecord as error:  # the newer state replaces one it cannot merge with
                log.error("crdt projection: replacing the stored state of %s %s: %s", name, replica, error)
        cur.execute(
            "INSERT INTO crdt_states (object, replica, crdt_type, state, updated_at) VALUES (%s, %s, %s, %s, now()) "
            "ON CONFLICT (object, replica) DO UPDATE SET crdt_type = EXCLUDED.crdt_type, state = EXCLUDED.state, "
            "updated_at = EXCLUDED.updated_at",
            (name, replica, kind, Jsonb(crdt.to_dict())),
        )

    @staticmethod
    def _merged(cur: psycopg.Cursor[Any], name: str) -> Any:
        merged = None
        for replica, kind, state in cur.execute(
            "SELECT replica, crdt_type, state FROM crdt_states WHERE object = %s ORDER BY replica", (name,)
        ).fetchall():
            crdt = _stored_state(name, replica, kind, state)
            if crdt is None:
                continue
            try:  # states of two types, or one that does not merge: left out
                merged = merged_states(name, merged, crdt, replica)
            except BadCrdtRecord as error:
                log.error("crdt projection: leaving out the stored state of %s %s: %s", name, replica, error)
        return merged

    @staticmethod
    def _replace(cur: psycopg.Cursor[Any], rows: ObjectRows) -> None:
        where = " AND ".join(f"{column} = %s" for column in rows.match) or "TRUE"
        cur.execute(f"DELETE FROM {rows.table} WHERE {where}", tuple(rows.match.values()))
        for row in rows.rows:
            columns = [*row, "updated_at"]
            values = [Jsonb(v) if k in JSON_COLUMNS else v for k, v in row.items()]
            placeholders = ", ".join(["%s"] * len(row) + ["now()"])
            cur.execute(f"INSERT INTO {rows.table} ({', '.join(columns)}) VALUES ({placeholders})", values)

    def close(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.close()
        self._conn = None


def _stored_state(name: str, replica: str, kind: str, state: Any) -> Any:
    """A state as stored in ``crdt_states``, or None (logged) when this version cannot read it."""
    if kind not in CRDT_TYPES:
        return None
    try:
        return CRDT_TYPES[kind].from_dict(state)
    except Exception as error:
        log.error("crdt projection: ignoring the stored %s state of %s %s: %r", kind, name, replica, error)
        return None
