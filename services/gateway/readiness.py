"""Readiness: can the gateway reach Kafka's metadata and run a query on Postgres, each within its budget."""

from __future__ import annotations

from collections.abc import Callable

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from psycopg import Error as DatabaseError

from services.gateway import queries
from services.gateway.read_models import ReadModels
from shared.db.connection import DatabaseNotConfigured

OK = "ok"
Check = Callable[[], str]


def kafka_check(admin: AdminClient, timeout_s: float) -> Check:
    """Fetch cluster metadata within ``timeout_s``: "ok" or why not."""

    def check() -> str:
        try:
            metadata = admin.list_topics(timeout=timeout_s)
        except KafkaException as exc:
            return f"Kafka metadata not reachable within {timeout_s:g}s: {_kafka_reason(exc)}"
        if not metadata.brokers:
            return "Kafka answered with no brokers"
        return OK

    return check


def postgres_check(read_models: ReadModels) -> Check:
    """Connect and ``SELECT 1``: "ok" or why not."""

    def check() -> str:
        try:
            with read_models.connect() as conn:
                return OK if queries.select_one(conn) else "Postgres answered SELECT 1 wrongly"
        except DatabaseNotConfigured as exc:
            return str(exc)
        except DatabaseError as exc:
            first_line = next(iter(str(exc).strip().splitlines()), "")
            return f"Postgres not reachable: {type(exc).__name__}: {first_line}"

    return check


def run_checks(checks: dict[str, Check]) -> dict[str, str]:
    """Every check's outcome by name (all run, so the answer names every failing dependency)."""
    return {name: check() for name, check in checks.items()}


def _kafka_reason(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else None
    return error.str() if isinstance(error, KafkaError) else str(exc)
