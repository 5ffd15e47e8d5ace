"""The benchmarks' Kafka and Postgres: the ones named by the environment, else their own, stopped afterwards.

``$ARCHITECT_KAFKA_BOOTSTRAP_SERVERS`` names a broker to use; without it a local instance "bench" is started on
127.0.0.1:19092 (controller 19093) with clean storage, apart from the developer's (9092) and the tests' (29092)
brokers, and stopped and deleted afterwards. The database is ``architect_bench``, created fresh on
``$DATABASE_URL``'s server when set, else on an embedded Postgres named "bench" that is stopped afterwards.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql

from shared.infra import postgres_server
from shared.infra.kafka_broker import LocalKafka

BENCH_NAME = "bench"
BENCH_KAFKA_PORT = 19092
BENCH_DATABASE = "architect_bench"
BOOTSTRAP_ENV = "ARCHITECT_KAFKA_BOOTSTRAP_SERVERS"


def say(message: str) -> None:
    """A status line on stderr (stdout carries only results)."""
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Broker:
    """Where to connect, and the local instance when the benchmark started its own."""

    bootstrap_servers: str
    local: LocalKafka | None = None

    def stored_bytes(self, topic: str) -> int | None:
        """Bytes the local broker keeps on disk for ``topic`` (shows what lz4 saved); None for a remote one."""
        if self.local is None:
            return None
        return sum(
            path.stat().st_size
            for node in self.local.nodes
            for partition_dir in node.data_dir.glob(f"{topic}-*")
            for path in partition_dir.glob("*.log")
        )


@contextmanager
def bench_kafka(timeout_s: float = 120.0) -> Iterator[Broker]:
    """``$ARCHITECT_KAFKA_BOOTSTRAP_SERVERS``'s broker, else a local "bench" broker with empty storage.

    A "bench" instance left running by an interrupted run is stopped first, since its topics would skew the
    figures; the instance is stopped and its data deleted afterwards (a full run writes gigabytes).
    """
    configured = os.environ.get(BOOTSTRAP_ENV)
    if configured:
        say(f"using the broker at {configured} ({BOOTSTRAP_ENV})")
        yield Broker(configured)
        return
    kafka = LocalKafka(BENCH_NAME, BENCH_KAFKA_PORT)
    if kafka.is_running():
        say(f"stopping {kafka!r}, left running by an earlier run, to start it with clean storage")
        kafka.stop()
    say(f"starting {kafka!r} with clean storage ...")
    kafka.start(timeout_s, clean=True)
    try:
        yield Broker(kafka.bootstrap_servers, kafka)
    finally:
        say(f"stopping {kafka!r}")
        kafka.stop()
        kafka.clean()


@contextmanager
def bench_database() -> Iterator[str]:
    """The URL of a freshly created, empty ``architect_bench`` database, dropped afterwards."""
    configured = os.environ.get(postgres_server.DATABASE_URL_ENV)
    started_here = not configured and postgres_server.running_url(BENCH_NAME) is None
    say("using DATABASE_URL's server" if configured else "starting the embedded Postgres 'bench' ...")
    admin_url = configured or postgres_server.start(BENCH_NAME)
    url = postgres_server.fresh_database(admin_url, BENCH_DATABASE)
    try:
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(BENCH_DATABASE))
            )
        if started_here:
            say("stopping the embedded Postgres 'bench'")
            postgres_server.stop(BENCH_NAME)


def postgres_description(url: str) -> str:
    """Server version and the settings that decide bulk-load speed, for the results."""
    names = ("shared_buffers", "max_wal_size", "synchronous_commit", "fsync", "wal_level")
    with psycopg.connect(url, connect_timeout=10) as connection:
        values = [str(connection.execute(f"SHOW {name}").fetchone()[0]) for name in ("server_version", *names)]  # type: ignore[index]
    settings = ", ".join(f"{name}={value}" for name, value in zip(names, values[1:], strict=True))
    return f"PostgreSQL {values[0]} ({settings})"
