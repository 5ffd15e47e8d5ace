"""Session fixtures that run real infrastructure for integration tests: a Kafka broker and a Postgres database.

Import them from ``tests/conftest.py``. They never skip: when Kafka or Postgres cannot start, the session fails
loudly with the reason (missing Java or Maven, a port in use, the broker's last log lines). When the session ends,
the broker and the embedded Postgres are stopped if this session started them, unless ``ARCHITECT_KEEP_INFRA=1``
(handy when iterating: the next session reuses them). One that was already running, left by an earlier session or
used by a concurrent one, is reused and left running.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from shared.infra import postgres_server
from shared.infra.kafka_broker import LocalKafka
from tests.ports import SESSION_KAFKA_DEFAULT

KEEP_INFRA_ENV = "ARCHITECT_KEEP_INFRA"
#: A session may use a broker of its own (e.g. to run the end-to-end suite beside another test session).
TEST_KAFKA_NAME = os.environ.get("ARCHITECT_TEST_KAFKA_NAME", "test")
TEST_KAFKA_PORT = int(os.environ.get("ARCHITECT_TEST_KAFKA_PORT", SESSION_KAFKA_DEFAULT))  # controller on port + 1
#: ... and an embedded Postgres of its own (its data directory is <cache>/postgres/<name>).
TEST_POSTGRES_NAME = os.environ.get("ARCHITECT_TEST_POSTGRES_NAME", "test")
TEST_DATABASE_PREFIX = "architect_test"


def keep_infra() -> bool:
    """Whether the developer asked to leave the test infrastructure running after the session."""
    return os.environ.get(KEEP_INFRA_ENV, "").strip().lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of a real single-node Kafka named "test" on 127.0.0.1:29092 (overridable with
    ``ARCHITECT_TEST_KAFKA_NAME`` and ``ARCHITECT_TEST_KAFKA_PORT``).

    A broker left running by an earlier session (``ARCHITECT_KEEP_INFRA=1``) is reused with its data; otherwise
    the broker starts from empty storage, so topics and offsets from earlier sessions cannot leak in.
    """
    kafka = LocalKafka(TEST_KAFKA_NAME, TEST_KAFKA_PORT)
    already_running = kafka.is_running()
    try:
        bootstrap = kafka.start(clean=True)
    except Exception as error:
        pytest.fail(f"the test Kafka broker could not start ({type(error).__name__}): {error}", pytrace=False)
    yield bootstrap
    if not already_running and not keep_infra():
        kafka.stop()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """URL of a freshly created, empty database ``architect_test_<pid>`` (one per session, so concurrent
    sessions on one server never drop each other's database).

    It lives on the server behind ``$DATABASE_URL`` when that is set, else on an embedded server named "test"
    started from an empty data directory (unless already running). A server left running keeps no test database:
    the session drops its own at the end.
    """
    configured = os.environ.get(postgres_server.DATABASE_URL_ENV)
    already_running = postgres_server.running_url(TEST_POSTGRES_NAME) is not None
    database = f"{TEST_DATABASE_PREFIX}_{os.getpid()}"
    try:
        admin_url = configured or postgres_server.start(TEST_POSTGRES_NAME, clean=True)
        url = postgres_server.fresh_database(admin_url, database)
    except Exception as error:
        pytest.fail(f"the test Postgres could not start ({type(error).__name__}): {error}", pytrace=False)
    yield url
    if not configured and not already_running and not keep_infra():
        postgres_server.stop(TEST_POSTGRES_NAME)
    else:
        postgres_server.drop_database(admin_url, database)
