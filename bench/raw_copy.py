"""The baseline for the rebuild: COPY the same rows, already in memory, into a plain table like ``events``.

The table has the columns and types of ``events`` (body jsonb included) and only its primary key, and is
loaded with one COPY in one transaction, the fastest way psycopg can put these rows into Postgres.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from services.projector.store import EVENT_COLUMNS
from shared.db.connection import connect

RAW_TABLE = "bench_raw_events"


def checkpoint(url: str) -> None:
    """Flush dirty pages now, so a phase timed next does not pay for the previous phase's writes."""
    with connect(url, statement_timeout_ms=0, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def vacuum(url: str, tables: Iterable[str]) -> None:
    """Vacuum ``tables`` now, so autovacuum's first pass over freshly loaded tables does not run during a timing."""
    with connect(url, statement_timeout_ms=0, autocommit=True) as conn:
        conn.execute(f"VACUUM {', '.join(tables)}")


def raw_copy_seconds(url: str, rows: Iterable[tuple[Any, ...]]) -> float:
    """Seconds to COPY ``rows`` into a fresh plain table and commit (the table is dropped afterwards)."""
    columns = ", ".join(f'"{c}"' for c in EVENT_COLUMNS)
    with connect(url, statement_timeout_ms=0) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
        conn.execute(f"CREATE TABLE {RAW_TABLE} (LIKE events, PRIMARY KEY (event_id))")
        conn.commit()
        checkpoint(url)
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY {RAW_TABLE} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        seconds = time.perf_counter() - started
        conn.execute(f"DROP TABLE {RAW_TABLE}")
        conn.commit()
    return seconds
