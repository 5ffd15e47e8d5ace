"""Connections with explicit timeouts (every I/O call has one)."""

from __future__ import annotations

import psycopg

from shared.settings import Settings


class DatabaseNotConfigured(RuntimeError):
    """No DATABASE_URL was given and no embedded server was started."""


def database_url(settings: Settings) -> str:
    if not settings.database_url:
        raise DatabaseNotConfigured(
            "DATABASE_URL is not set: export it, or start the embedded server with "
            "`python -m shared.infra postgres start` and use the URL it prints"
        )
    return settings.database_url


def connect(url: str, *, statement_timeout_ms: int = 60_000, autocommit: bool = False) -> psycopg.Connection:
    """A connection that gives up after 10 s to connect and ``statement_timeout_ms`` per statement."""
    return psycopg.connect(
        url,
        connect_timeout=10,
        autocommit=autocommit,
        options=f"-c statement_timeout={statement_timeout_ms} -c lock_timeout=30000",
        application_name="architect",
    )
