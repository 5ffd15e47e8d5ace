"""Versioned SQL migrations applied at start-up, once each, under an advisory lock."""

from __future__ import annotations

import logging
from importlib import resources

import psycopg

log = logging.getLogger(__name__)
_LOCK_KEY = 0x4152434D  # "ARCM": serialises concurrent start-ups


def available() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every ``NNNN_name.sql`` shipped in ``shared/db/migrations``, in order."""
    found = []
    for entry in resources.files("shared.db.migrations").iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append((int(number), rest.removesuffix(".sql"), entry.read_text()))
    return sorted(found)


def migrate(conn: psycopg.Connection) -> list[int]:
    """Apply every pending migration, in order, in one transaction (all of them or none; a concurrent start-up
    waits on the lock and then finds them done); returns the versions applied now."""
    applied_now = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, name, sql in available():
            if version in done:
                continue
            log.info("applying migration %04d_%s", version, name)
            conn.execute(sql)
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
            applied_now.append(version)
    return applied_now
