"""Read-only connections to the projector's Postgres read models."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import IsolationLevel
from psycopg.rows import dict_row

from shared.db.connection import DatabaseNotConfigured

Connection = psycopg.Connection[dict[str, Any]]


class ReadModels:
    """Opens one short-lived connection per request.

    Sessions are read-only (the gateway never writes state) and repeatable-read, so a query made of several
    statements sees one consistent snapshot of the projector's batches. Connecting gives up after
    ``connect_timeout_s`` and every statement after ``statement_timeout_ms``.
    """

    def __init__(self, url: str | None, *, statement_timeout_ms: int, connect_timeout_s: float) -> None:
        self._url = url
        self._statement_timeout_ms = statement_timeout_ms
        # libpq takes whole seconds (and treats 1 as 2); round up so the budget is never shorter than asked.
        self._connect_timeout_s = max(2, math.ceil(connect_timeout_s))

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for the duration of the block; raises ``DatabaseNotConfigured`` without a URL."""
        if not self._url:
            raise DatabaseNotConfigured("DATABASE_URL is not set: the gateway has no read models to query")
        conn = psycopg.connect(
            self._url,
            connect_timeout=self._connect_timeout_s,
            autocommit=True,
            row_factory=dict_row,
            options=f"-c default_transaction_read_only=on -c statement_timeout={self._statement_timeout_ms}",
            application_name="architect-gateway",
        )
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        try:
            yield conn
        finally:
            conn.close()
