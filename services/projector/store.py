"""Writes a batch of events into Postgres: the event log, the read models and the consumed offsets,
all in one transaction, so a crash between batches never loses or doubles a row (exactly-once into Postgres).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import psycopg

from services.projector.projections import LATEST_COLUMNS, TABLES, changes_for, fold, row_values
from shared.bus.consumer import Delivery, Rewind
from shared.bus.record import Record
from shared.bus.replies import is_reply_copy
from shared.db.connection import connect
from shared.events.codec import encode

PROJECTION = "read-models"
#: Live batches take this lock shared; a rebuild takes it exclusively for its whole run.
REBUILD_LOCK = 0x41524342  # "ARCB"

EVENT_COLUMNS = (
    "event_id",
    "type",
    "version",
    "occurred_at",
    "producer",
    "stream_id",
    "correlation_id",
    "causation_id",
    "topic",
    "partition",
    "offset",
    "body",
)


#: What a batch COPYs per event: where Kafka keeps it and its canonical JSON. Postgres derives the other
#: columns of ``events`` from the body (cheaper there than formatting uuids and timestamps in Python).
STAGED_EVENT_COLUMNS = ("topic", "partition", "offset", "body")
_EVENT_FROM_STAGE = (
    "(body->>'event_id')::uuid, body->>'type', (body->>'version')::int, (body->>'occurred_at')::timestamptz, "
    "body->>'producer', body->>'stream_id', body->>'correlation_id', (body->>'causation_id')::uuid, "
    'topic, partition, "offset", body'
)


#: Log a batch's events. An event id seen again (a redelivery, or a service re-emitting an event after a crash
#: with a new ``occurred_at``) keeps the copy at the lowest (topic, partition, offset), whichever copy was read
#: first, so the event log does not depend on read order and a rebuild equals the live log. Only rows inserted
#: (``xmax = 0``), not rows moved to an earlier copy, count as fresh events for the read models.
_LOG_EVENTS = (
    "INSERT INTO events ({columns}) SELECT DISTINCT ON (1) {select} FROM stage_events "
    'ORDER BY 1, topic, partition, "offset" '
    "ON CONFLICT (event_id) DO UPDATE SET {updates} "
    'WHERE (EXCLUDED.topic, EXCLUDED.partition, EXCLUDED."offset") < (events.topic, events.partition, events."offset") '
    "RETURNING event_id, xmax = 0 AS fresh"
).format(
    columns=", ".join('"' + c + '"' for c in EVENT_COLUMNS),
    select=_EVENT_FROM_STAGE,
    updates=", ".join('"' + c + '" = EXCLUDED."' + c + '"' for c in EVENT_COLUMNS if c != "event_id"),
)
#: ``_LOG_EVENTS`` answering a row (NULL, number of fresh events) and, only when that is fewer than the batch's
#: events (``%s``), a row (event_id, NULL) per fresh event: a replay rarely meets a duplicate, and fetching and
#: hashing every id of the batch only to find them all fresh cost ~3 us per event.
_LOG_AND_COUNT_EVENTS = (
    f"WITH logged AS ({_LOG_EVENTS}), "
    "counted AS (SELECT count(*) FILTER (WHERE fresh) AS fresh FROM logged) "
    "SELECT NULL::uuid, fresh FROM counted "
    "UNION ALL SELECT event_id, NULL FROM logged, counted WHERE logged.fresh AND counted.fresh < %s"
)


def prepare_session(conn: psycopg.Connection) -> None:
    """Create per-session staging tables (unconstrained copies of the targets, emptied at each commit); the
    session speaks UTF-8, the encoding of the COPY text a batch sends."""
    with conn.transaction():
        conn.execute("SET client_encoding TO 'UTF8'")
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS stage_events ON COMMIT DELETE ROWS AS "
            f"SELECT {', '.join(_quoted(STAGED_EVENT_COLUMNS))} FROM events WITH NO DATA"
        )
        for table in TABLES:
            conn.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS stage_{table} ON COMMIT DELETE ROWS AS "
                f"SELECT * FROM {table} WITH NO DATA"
            )


def stored_positions(conn: psycopg.Connection, projection: str = PROJECTION) -> dict[tuple[str, int], int]:
    rows = conn.execute(
        "SELECT topic, partition, next_offset FROM projector_offsets WHERE projection = %s", (projection,)
    ).fetchall()
    return {(topic, partition): offset for topic, partition, offset in rows}


def is_logged_here(topic: str, event_type: str) -> bool:
    """Every event is logged from the topic it belongs to; a task outcome copied to its creator's command topic
    (``shared/bus/replies.py``) is logged from the task topic, so the copy is skipped (its offset still stored).
    The live projector skips copies by their type header, the rebuild after decoding."""
    return not is_reply_copy(topic, event_type)


class PreparedBatch(NamedTuple):
    """What a batch writes, computed before its transaction, assuming every event in it is fresh (a rebuild
    prepares batch N+1 while batch N is written, so Postgres and Python work at the same time)."""

    deliveries: Sequence[Delivery]
    #: ``staged_events_text`` of the deliveries.
    events_text: bytes
    #: ``models_text`` of the deliveries.
    models_text: dict[str, bytes]


def prepare_batch(deliveries: Sequence[Delivery]) -> PreparedBatch:
    return PreparedBatch(deliveries, staged_events_text(deliveries), models_text(deliveries))


def models_text(deliveries: Sequence[Delivery]) -> dict[str, bytes]:
    """``read_model_rows`` of these events, per table in COPY's text format."""
    return {table: rows_text(rows) for table, rows in read_model_rows(deliveries).items()}


def read_model_rows(deliveries: Sequence[Delivery]) -> dict[str, list[tuple[Any, ...]]]:
    """The full rows (``row_values``) each read-model table upserts for these events, folded per row."""
    folded = fold(change for d in deliveries for change in changes_for(d.envelope))
    return {table: [row_values(table, key, columns) for key, columns in rows.items()] for table, rows in folded.items()}


def staged_events_text(deliveries: Sequence[Delivery]) -> bytes:
    """The ``STAGED_EVENT_COLUMNS`` of a batch in COPY's text format, UTF-8: topic, partition, offset and the
    canonical envelope JSON (``_body_bytes``) of each event, formatted here in a few byte operations per event
    instead of psycopg's per-value adaptation."""
    topics: dict[str, bytes] = {}
    lines = []
    for delivery in deliveries:
        r = delivery.record
        topic = topics.get(r.topic)
        if topic is None:
            topic = topics[r.topic] = _copy_text(r.topic.encode())
        lines.append(b"%s\t%d\t%d\t%s\n" % (topic, r.partition, r.offset, _copy_text(_body_bytes(delivery))))
    return b"".join(lines)


def rows_text(rows: Sequence[tuple[Any, ...]]) -> bytes:
    """Read-model rows in COPY's text format, UTF-8: what psycopg's ``write_row`` sends for them, formatted
    outside the transaction. Values are those ``row_values`` gives (JSON columns already text).

    A row is joined as it is and escaped only when it holds a backslash, a line break or a tab of its own (rare);
    NULL is written as NUL first, a character no value can hold (the codec refuses it), and replaced once."""
    lines = []
    for row in rows:
        fields = [value if value.__class__ is str else "\0" if value is None else _text(value) for value in row]
        line = "\t".join(fields)
        if "\\" in line or "\n" in line or "\r" in line or line.count("\t") != len(fields) - 1:
            line = "\t".join([field.translate(_COPY_ESCAPES) for field in fields])
        lines.append(line)
    if not lines:
        return b""
    return ("\n".join(lines) + "\n").encode().replace(b"\0", b"\\N")


_SPECIAL_FLOATS = {"inf": "Infinity", "-inf": "-Infinity", "nan": "NaN"}
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: Any) -> str:
    """One value other than None and a plain str as COPY text (before escaping)."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return float.__repr__(value) if math.isfinite(value) else _SPECIAL_FLOATS[float.__repr__(value)]
    if isinstance(value, datetime):
        return value.isoformat(" ")
    raise TypeError(f"no COPY text format for a read-model value of type {type(value).__name__}: {value!r}")


def _copy_text(value: bytes) -> bytes:
    """A value escaped for COPY's text format (backslash first, then the separators it could contain)."""
    if b"\\" in value:
        value = value.replace(b"\\", b"\\\\")
    if b"\t" in value or b"\n" in value or b"\r" in value:
        value = value.replace(b"\t", b"\\t").replace(b"\n", b"\\n").replace(b"\r", b"\\r")
    return value


def _body_bytes(delivery: Delivery) -> bytes:
    """The canonical envelope JSON: the record's own bytes when current, re-encoded when it was upcast."""
    if delivery.envelope.upcast_from is None and delivery.record.value is not None:
        return delivery.record.value
    return encode(delivery.envelope)


def write_batch(
    conn: psycopg.Connection,
    deliveries: Sequence[Delivery],
    records: Sequence[Record],
    *,
    projection: str = PROJECTION,
    fence: bool = True,
    written: dict[tuple[str, int], int] | None = None,
    prepared: PreparedBatch | None = None,
) -> int:
    """Apply one batch atomically; returns how many events were new. Raises ``Rewind`` when the stored
    positions went back under this process (see ``_fenced``).

    ``prepared`` is ``prepare_batch(deliveries)`` when the caller computed it ahead; it is used as far as it
    still holds (every delivery past the fence and fresh), and the rest is computed here.

    ``records`` is every record of the batch, dead-lettered ones included, so the stored position moves past
    them too and a restart does not dead-letter them again. ``written`` holds the positions this process
    stored last; it is updated once the batch is committed.
    """
    written = {} if written is None else written
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (REBUILD_LOCK,))
        if fence:
            deliveries, records = _fenced(conn, deliveries, records, projection, written)
        if not records:
            return 0
        fresh: list[Delivery] = []
        with conn.cursor() as cur:
            if deliveries:
                if prepared is None or len(prepared.deliveries) != len(deliveries):
                    prepared = prepare_batch(deliveries)  # none given, or the fence dropped some of its deliveries
                with cur.copy(f"COPY stage_events ({', '.join(_quoted(STAGED_EVENT_COLUMNS))}) FROM STDIN") as copy:
                    copy.write(prepared.events_text)
                cur.execute(_LOG_AND_COUNT_EVENTS, (len(deliveries),))
                fresh = _fresh(cur, deliveries)
                all_fresh = len(fresh) == len(deliveries)
                _upsert_read_models(cur, prepared.models_text if all_fresh else models_text(fresh))
            positions = _store_positions(cur, records, projection)
    written.update(positions)
    return len(fresh)


def _fresh(cur: psycopg.Cursor, deliveries: Sequence[Delivery]) -> list[Delivery]:
    """The deliveries whose events the INSERT just logged for the first time: all of them, unless some were
    logged before or appear twice in the batch (applied once, like a duplicate across batches)."""
    rows = cur.fetchall()
    if next(count for event_id, count in rows if event_id is None) == len(deliveries):
        return list(deliveries)  # as many fresh events as deliveries: every one is fresh, none twice
    new_ids = {event_id for event_id, _ in rows if event_id is not None}
    fresh = []
    for delivery in deliveries:
        if delivery.envelope.event_id in new_ids:
            new_ids.discard(delivery.envelope.event_id)
            fresh.append(delivery)
    return fresh


def _fenced(
    conn: psycopg.Connection,
    deliveries: Sequence[Delivery],
    records: Sequence[Record],
    projection: str,
    written: dict[tuple[str, int], int],
) -> tuple[list[Delivery], list[Record]]:
    """Drop records below the stored positions (already applied); rewind when a stored position is behind the
    one this process wrote last (the database was restored or its positions reset): the records between must be
    read again.

    Gaps between the stored position and a batch's first offset are normal and accepted: transaction markers and
    aborted records take offsets that Kafka never delivers, and the consumer reads each partition in order.
    """
    partitions = {(r.topic, r.partition) for r in records}
    checked = partitions | written.keys()  # idle partitions too: a restore must not wait for their next record
    stored = {
        (t, p): o
        for t, p, o in conn.execute(
            "SELECT topic, partition, next_offset FROM projector_offsets WHERE projection = %s "
            "AND (topic, partition) IN (SELECT * FROM unnest(%s::text[], %s::int[])) FOR UPDATE",
            (projection, [t for t, _ in checked], [p for _, p in checked]),
        ).fetchall()
    }
    went_back = {tp: stored.get(tp, 0) for tp in checked if tp in written and stored.get(tp, 0) < written[tp]}
    if went_back:
        first: dict[tuple[str, int], int] = {}
        for r in records:
            first[(r.topic, r.partition)] = min(first.get((r.topic, r.partition), r.offset), r.offset)
        for tp in went_back:
            del written[tp]
        # The batch is dropped as a whole: partitions that did not go back return to where the batch found them.
        raise Rewind(first | went_back)

    def unseen(r: Record) -> bool:
        return r.offset >= stored.get((r.topic, r.partition), 0)

    return [d for d in deliveries if unseen(d.record)], [r for r in records if unseen(r)]


def _upsert_read_models(cur: psycopg.Cursor, models_text: dict[str, bytes]) -> None:
    for table, text in models_text.items():
        key_columns, all_columns = TABLES[table]
        with cur.copy(f"COPY stage_{table} ({', '.join(all_columns)}) FROM STDIN") as copy:
            copy.write(text)
        updates = ", ".join(_merge(table, c) for c in all_columns if c not in key_columns)
        cur.execute(
            f"INSERT INTO {table} SELECT * FROM stage_{table} "
            f"ON CONFLICT ({', '.join(key_columns)}) DO UPDATE SET {updates}"
        )


def _merge(table: str, column: str) -> str:
    """SQL that merges a staged column into the stored row: latest-wins columns take the max, others the new
    value when the event named it."""
    if column in LATEST_COLUMNS:
        return f"{column} = GREATEST(EXCLUDED.{column}, {table}.{column})"
    return f"{column} = COALESCE(EXCLUDED.{column}, {table}.{column})"


def _store_positions(cur: psycopg.Cursor, records: Sequence[Record], projection: str) -> dict[tuple[str, int], int]:
    latest: dict[tuple[str, int], int] = {}
    for r in records:
        latest[(r.topic, r.partition)] = max(latest.get((r.topic, r.partition), -1), r.offset + 1)
    cur.executemany(
        "INSERT INTO projector_offsets (projection, topic, partition, next_offset) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (projection, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset",
        [(projection, t, p, o) for (t, p), o in latest.items()],
    )
    return latest


def _quoted(columns: Sequence[str]) -> list[str]:
    return [f'"{c}"' for c in columns]


class ProjectorStore:
    """One Postgres session for the projector, re-opened after the database comes back."""

    def __init__(self, url: str, *, projection: str = PROJECTION) -> None:
        self._url = url
        self.projection = projection
        self._conn: psycopg.Connection | None = None
        self._written: dict[tuple[str, int], int] = {}

    @property
    def conn(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = connect(self._url)
            prepare_session(self._conn)
        return self._conn

    def write(self, deliveries: Sequence[Delivery], records: Sequence[Record]) -> int:
        try:
            return write_batch(self.conn, deliveries, records, projection=self.projection, written=self._written)
        except psycopg.OperationalError:
            self.close()
            raise

    def positions(self) -> dict[tuple[str, int], int]:
        try:
            with self.conn.transaction():
                return stored_positions(self.conn, self.projection)
        except psycopg.OperationalError:
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.close()
        self._conn = None
