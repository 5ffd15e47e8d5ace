"""Shared fixtures. Integration tests get a real Kafka broker and a real Postgres, started by the fixtures
(never skipped: if either cannot start, the session fails with the reason)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from shared.bus.bootstrap import ensure_topics
from shared.bus.producer import EventProducer
from shared.db.connection import connect
from shared.db.schema import migrate
from shared.infra.postgres_server import fresh_database
from shared.settings import Settings
from tests.infra_fixtures import database_url, kafka_bootstrap

__all__ = ["database_url", "kafka_bootstrap"]


@pytest.fixture(scope="session")
def settings(kafka_bootstrap: str, database_url: str) -> Settings:
    """Settings pointing at the test broker and database, with topics created from the catalogue."""
    cfg = Settings(kafka_bootstrap_servers=kafka_bootstrap, database_url=database_url, topic_partitions=3)
    ensure_topics(cfg)
    return cfg


@pytest.fixture
def producer(settings: Settings) -> Iterator[EventProducer]:
    p = EventProducer(settings, client_id="tests")
    yield p
    p.close()


@pytest.fixture
def new_database(database_url: str) -> Callable[[], str]:
    """Make an empty, migrated database of its own for a test (projections see every test's events)."""

    def make() -> str:
        url = fresh_database(database_url, f"t_{uuid.uuid4().hex[:12]}")
        with connect(url) as conn:
            migrate(conn)
        return url

    return make


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
