"""`architect projections rebuild`: drop the read models and replay every event topic from offset zero.

It runs the live projector's own write path (same projections, same transaction shape) with bigger batches,
under an exclusive lock that pauses live projector batches until it is done, and without secondary indexes
while loading (they are rebuilt at the end).

For speed, one batch is written (Postgres working, on another core) while the next is decoded and prepared
(``prepare_batch``: its events and folded read-model rows as COPY text, so the writer thread does little but
wait on Postgres), and Python's cycle collector is paused: the replay creates no reference cycles, only many
short-lived objects, and full collections over them cost a quarter of the run. The interpreter also hands the
GIL over every 0.1 ms instead of every 5 ms while the replay runs: the writer thread needs it back after each
wait on Postgres, and with the default interval it waited for the decoding thread's time slice about a third of
the run.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from services.projector.projections import TABLES
from services.projector.store import (
    PROJECTION,
    REBUILD_LOCK,
    is_logged_here,
    prepare_batch,
    prepare_session,
    write_batch,
)
from shared.bus.consumer import Delivery
from shared.bus.reader import end_offsets, scan_consumer
from shared.bus.record import Record
from shared.bus.topics import EVENT_TOPICS
from shared.db.connection import connect
from shared.db.schema import migrate
from shared.events.codec import DecodeError, decode
from shared.settings import Settings

#: The indexes of the rebuilt tables that no write of the replay needs (only primary keys are): dropped while
#: loading and built once at the end, where a sort is far cheaper than a million index inserts (and task
#: status changes become HOT updates). ``tests/integration/test_projector.py`` checks this is every one of them.
SECONDARY_INDEXES = {
    "events_by_correlation": "CREATE INDEX events_by_correlation ON events (correlation_id, occurred_at)",
    "events_by_type": "CREATE INDEX events_by_type ON events (type, occurred_at)",
    "goals_by_status": "CREATE INDEX goals_by_status ON goals (status)",
    "tasks_by_goal": "CREATE INDEX tasks_by_goal ON tasks (goal_id)",
    "tasks_by_status": "CREATE INDEX tasks_by_status ON tasks (status)",
    "sagas_by_status": "CREATE INDEX sagas_by_status ON sagas (status)",
    "drift_alerts_by_agent": "CREATE INDEX drift_alerts_by_agent ON drift_alerts (agent_id, at)",
    "decisions_by_status": "CREATE INDEX decisions_by_status ON decisions (status)",
}
REBUILT_TABLES = ("events", *TABLES)
#: GIL hand-over interval while replaying (see the module's docstring).
REPLAY_SWITCH_INTERVAL_S = 0.0001

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RebuildReport:
    events_read: int
    events_written: int
    skipped_invalid: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events_read / self.seconds if self.seconds else 0.0


def rebuild(
    settings: Settings,
    url: str,
    *,
    batch_size: int = 5000,
    progress: Progress | None = None,
    timeout_s: float = 3600.0,
    until: Mapping[tuple[str, int], int] | None = None,
) -> RebuildReport:
    """Replay all event topics into fresh read models; ``progress(done, total)`` is called per batch.

    ``until`` stops each partition at a next offset (partitions it leaves out are not read), e.g. a live
    projector's positions, so the result can be compared with its read models at the same cut.
    """
    started = time.perf_counter()
    with connect(url, statement_timeout_ms=0, autocommit=True) as conn:
        migrate(conn)
        conn.execute("SELECT pg_advisory_lock(%s)", (REBUILD_LOCK,))
        try:
            _reset(conn)
            prepare_session(conn)
            # Batches commit without waiting for their WAL flush: a crash loses the last batches and the positions
            # stored with them alike (the projector reads them again); the index transaction below flushes all.
            conn.execute("SET synchronous_commit = off")
            with _cycle_collector_paused(), _switch_interval(REPLAY_SWITCH_INTERVAL_S):
                read, written, skipped = _replay(settings, conn, batch_size, progress, timeout_s, until)
            conn.execute("SET synchronous_commit = on")
            with conn.transaction():
                for ddl in SECONDARY_INDEXES.values():
                    conn.execute(ddl)
            conn.execute(f"ANALYZE {', '.join(REBUILT_TABLES)}")
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (REBUILD_LOCK,))

    return RebuildReport(read, written, skipped, time.perf_counter() - started)


def _reset(conn: psycopg.Connection) -> None:
    with conn.transaction():
        for index in SECONDARY_INDEXES:
            conn.execute(f"DROP INDEX IF EXISTS {index}")
        conn.execute(f"TRUNCATE {', '.join(REBUILT_TABLES)}")
        conn.execute("DELETE FROM projector_offsets WHERE projection = %s", (PROJECTION,))


def _replay(
    settings: Settings,
    conn: psycopg.Connection,
    batch_size: int,
    progress: Progress | None,
    timeout_s: float,
    until: Mapping[tuple[str, int], int] | None = None,
) -> tuple[int, int, int]:
    consumer = scan_consumer(
        settings,
        {
            "fetch.max.bytes": 104_857_600,
            "max.partition.fetch.bytes": 10_485_760,
            "queued.max.messages.kbytes": 262_144,
        },
    )
    try:
        watermarks = end_offsets(consumer, EVENT_TOPICS)
        if until is not None:
            watermarks = {tp: (low, min(high, until.get(tp, low))) for tp, (low, high) in watermarks.items()}
        targets = {tp: high for tp, (low, high) in watermarks.items() if high > low}
        total = sum(high - low for low, high in watermarks.values())
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in targets])
        read = written = skipped = 0
        max_bytes = settings.max_event_bytes
        # One writer thread: batch N is written while batch N+1 is decoded; one batch in flight at a time.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rebuild-writer") as writer:
            in_flight: Future[int] | None = None
            for records in _read_records(consumer, targets, batch_size, timeout_s):
                deliveries: list[Delivery] = []
                for record in records:
                    try:
                        envelope = decode(record.value, record.key, max_bytes=max_bytes)
                    except DecodeError:
                        skipped += 1  # already dead-lettered by the live consumers when it first arrived
                        continue
                    if not is_logged_here(record.topic, envelope.type):
                        continue  # a copy of an event logged from its own topic
                    deliveries.append(Delivery(envelope, record))
                prepared = prepare_batch(deliveries)
                if in_flight is not None:
                    written += in_flight.result()
                    if progress is not None:
                        progress(read, total)
                in_flight = writer.submit(write_batch, conn, deliveries, records, fence=False, prepared=prepared)
                read += len(records)
            if in_flight is not None:
                written += in_flight.result()
        if progress is not None:
            progress(total, total)
        return read, written, skipped
    finally:
        consumer.close()


def _read_records(
    consumer: Consumer, targets: dict[tuple[str, int], int], batch: int, timeout_s: float
) -> Iterator[list[Record]]:
    """``shared.bus.reader.read_assigned`` for the replay: the same batches of records, built without the headers
    and timestamps the projector never reads (a few microseconds per record, at a million records)."""
    remaining = dict(targets)
    deadline = time.monotonic() + timeout_s
    while remaining:
        if time.monotonic() > deadline:
            raise TimeoutError(f"could not read to the end of {sorted(remaining)} in {timeout_s:.0f}s")
        records = []
        for msg in consumer.consume(batch, 0.5):
            tp = (msg.topic() or "", msg.partition() or 0)
            offset = msg.offset() or 0
            if msg.error() is not None:
                if msg.error().code() == KafkaError._PARTITION_EOF and tp in remaining and offset >= remaining[tp]:
                    del remaining[tp]
                continue
            end = remaining.get(tp)
            if end is None or offset >= end:
                continue
            records.append(Record(tp[0], tp[1], offset, msg.key(), msg.value()))
        if records:
            yield records


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def _switch_interval(seconds: float) -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)
