"""A local environment for the whole stack: a Kafka broker, a migrated database and the catalogue's topics.

Used by ``make run`` and ``make demo``. ``DATABASE_URL`` is honoured; otherwise the embedded Postgres is started.
What this module started, it stops; what was already running (a developer's broker, a configured database) is
left alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from shared.bus.bootstrap import ensure_topics
from shared.db.connection import connect
from shared.db.schema import migrate
from shared.infra import postgres_server
from shared.infra.kafka_broker import LocalKafka
from shared.settings import Settings

DEV_KAFKA_NAME = "dev"
DEV_KAFKA_PORT = 9092
DEV_POSTGRES_NAME = "dev"


@dataclass
class LocalEnvironment:
    bootstrap: str
    database_url: str
    kafka: LocalKafka
    started_kafka: bool
    started_postgres: bool

    @property
    def settings(self) -> Settings:
        return Settings(kafka_bootstrap_servers=self.bootstrap, database_url=self.database_url)

    def stop(self) -> None:
        """Stop the broker and the embedded Postgres if this environment started them."""
        if self.started_kafka:
            self.kafka.stop()
        if self.started_postgres:
            postgres_server.stop(DEV_POSTGRES_NAME)


def bring_up(
    database: str,
    *,
    fresh: bool,
    kafka_name: str = DEV_KAFKA_NAME,
    kafka_port: int = DEV_KAFKA_PORT,
    say: object = print,
) -> LocalEnvironment:
    """Start (or reuse) a broker and Postgres, create database ``database`` and every topic.

    ``fresh``: a broker this call starts begins with empty storage, and the database is dropped and re-created.
    """
    kafka = LocalKafka(kafka_name, kafka_port)
    started_kafka = not kafka.is_running()
    where = f"127.0.0.1:{kafka_port}"
    _say(say, f"Kafka: starting a KRaft broker on {where} ..." if started_kafka else f"Kafka: reusing {where}")
    bootstrap = kafka.start(clean=fresh)
    configured = os.environ.get(postgres_server.DATABASE_URL_ENV)
    started_postgres = not configured and postgres_server.running_url(DEV_POSTGRES_NAME) is None
    _say(say, "Postgres: starting the embedded server ..." if started_postgres else "Postgres: reusing the server")
    admin_url = configured or postgres_server.start(DEV_POSTGRES_NAME)
    if fresh:
        url = postgres_server.fresh_database(admin_url, database)
    else:
        url = postgres_server.ensure_database(admin_url, database)
    with connect(url) as conn:
        migrate(conn)
    env = LocalEnvironment(bootstrap, url, kafka, started_kafka, started_postgres)
    ensure_topics(env.settings)
    _say(say, f"topics ready on {bootstrap}; database {database} migrated")
    return env


def _say(say: object, message: str) -> None:
    if callable(say):
        say(message)
