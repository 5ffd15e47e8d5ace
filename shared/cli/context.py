"""What every CLI command needs: settings, a console, and clean failures."""

from __future__ import annotations

import logging
from typing import Any, NoReturn, TypeVar

import psycopg
import typer
from psycopg.rows import dict_row
from pydantic import ValidationError
from rich.console import Console

from shared.bus.producer import DeliveryError, EventProducer
from shared.db.connection import DatabaseNotConfigured, connect, database_url
from shared.events.codec import new_event
from shared.events.envelope import Payload
from shared.settings import Settings

P = TypeVar("P", bound=Payload)

console = Console()
errors = Console(stderr=True)


def settings() -> Settings:
    return Settings()


def fail(message: str, code: int = 1) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def build_command(make: type[P], **fields: Any) -> P:
    """The command payload, or exit 2 naming every invalid field."""
    try:
        return make(**fields)
    except ValidationError as exc:
        fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()), code=2)


#: How long a command may wait for Kafka's acknowledgement before the CLI gives up and says so.
COMMAND_DELIVERY_TIMEOUT_S = 20.0
_QUIET_KAFKA_LOG = logging.getLogger("architect.cli.librdkafka")
_QUIET_KAFKA_LOG.propagate = False
_QUIET_KAFKA_LOG.addHandler(logging.NullHandler())


def publish_command(payload: Payload, stream_id: str, *, topic: str | None = None) -> None:
    """Publish one command under ``stream_id`` (its key and correlation id) and wait for Kafka to take it."""
    config = settings()
    # librdkafka's own connection complaints would bury the one-line error below; they go to a silent logger.
    overrides = {"delivery.timeout.ms": int(COMMAND_DELIVERY_TIMEOUT_S * 1000), "logger": _QUIET_KAFKA_LOG}
    producer = EventProducer(config, client_id="architect-cli", overrides=overrides)
    try:
        producer.publish(
            new_event(payload, producer="architect-cli", stream_id=stream_id, correlation_id=stream_id), topic=topic
        )
        producer.close(timeout=COMMAND_DELIVERY_TIMEOUT_S + 5)
    except DeliveryError as exc:
        fail(f"Kafka at {config.kafka_bootstrap_servers} did not accept the command: {exc}")


def query_read_models(sql: str, *args: object, models: str) -> list[dict[str, Any]]:
    """Rows of a read-model query as dicts; a missing ``DATABASE_URL`` or a database error exits 1."""
    try:
        url = database_url(settings())
        with connect(url) as conn, conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(sql, args).fetchall()
    except DatabaseNotConfigured as exc:
        fail(str(exc))
    except psycopg.Error as exc:
        fail(f"could not read the {models} read models: {exc}")
