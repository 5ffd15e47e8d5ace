"""Versioned SQL migrations (shared/db/migrations) applied by shared.db.schema.migrate on a real Postgres:
each once, recorded, idempotent, all-or-nothing, and safe when several services start at the same time."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql

from services.projector.projections import TABLES
from shared.db import schema
from shared.db.connection import connect
from shared.infra.postgres_server import fresh_database
from tests.conftest import unique

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

Migrations = list[tuple[int, str, str]]


@pytest.fixture
def empty_database(database_url: str) -> Iterator[Callable[[], str]]:
    """Make empty (never migrated) databases; dropped after the test."""
    made: list[str] = []

    def make() -> str:
        name = f"m_{unique('x').replace('-', '_')}"
        made.append(name)
        return fresh_database(database_url, name)

    yield make
    with psycopg.connect(database_url, autocommit=True) as admin:
        for name in made:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def tables(url: str) -> set[str]:
    with connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def recorded(url: str) -> list[tuple[int, str]]:
    with connect(url) as conn:
        return conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()


def migrate(url: str) -> list[int]:
    with connect(url) as conn:
        return schema.migrate(conn)


def tables_created_by(migrations: Migrations) -> set[str]:
    return {name for _, _, text in migrations for name in re.findall(r"CREATE TABLE (\w+)", text)}


def test_the_shipped_migrations_are_numbered_in_order_without_gaps() -> None:
    shipped = schema.available()
    assert [version for version, _, _ in shipped] == list(range(1, len(shipped) + 1))
    assert all(name and text.strip() for _, name, text in shipped)


def test_a_fresh_database_gets_every_table_and_every_version_is_recorded(empty_database: Callable[[], str]) -> None:
    url = empty_database()
    assert tables(url) == set()

    shipped = schema.available()
    assert migrate(url) == [version for version, _, _ in shipped]
    assert recorded(url) == [(version, name) for version, name, _ in shipped]
    created = tables(url)
    assert created == tables_created_by(shipped) | {"schema_migrations"}
    assert {"events", "projector_offsets", "dead_letters", *TABLES} <= created, "what the projector writes"


def test_running_the_migrations_again_changes_nothing(empty_database: Callable[[], str]) -> None:
    url = empty_database()
    migrate(url)
    with connect(url) as conn:
        conn.execute("INSERT INTO goals (goal_id, updated_at) VALUES ('kept', now())")
        conn.commit()
        applied_at = conn.execute("SELECT version, applied_at FROM schema_migrations ORDER BY 1").fetchall()

    assert migrate(url) == []
    assert migrate(url) == []
    with connect(url) as conn:
        assert conn.execute("SELECT version, applied_at FROM schema_migrations ORDER BY 1").fetchall() == applied_at
        assert conn.execute("SELECT goal_id FROM goals").fetchall() == [("kept",)], "data survives a re-run"


def test_only_pending_migrations_are_applied(
    empty_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = empty_database()
    shipped = schema.available()
    migrate(url)
    following = len(shipped) + 1
    later = [*shipped, (following, "probe_column", "ALTER TABLE goals ADD COLUMN probe_note text")]
    monkeypatch.setattr(schema, "available", lambda: later)

    assert migrate(url) == [following]
    assert recorded(url)[-1] == (following, "probe_column")
    with connect(url) as conn:
        conn.execute("SELECT probe_note FROM goals")  # the column exists
    assert migrate(url) == [], "the ALTER would fail if it ran twice"


def test_a_failing_migration_leaves_nothing_half_applied(
    empty_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = empty_database()
    shipped = schema.available()
    broken = [*shipped, (len(shipped) + 1, "broken", "CREATE TABLE half_done (id int); SELEC nonsense")]
    monkeypatch.setattr(schema, "available", lambda: broken)
    with pytest.raises(psycopg.errors.SyntaxError):
        migrate(url)
    assert tables(url) == set(), "pending migrations are applied all together or not at all"

    monkeypatch.setattr(schema, "available", lambda: shipped)
    assert migrate(url) == [version for version, _, _ in shipped]
    assert "half_done" not in tables(url)


def test_services_starting_together_apply_each_migration_once(empty_database: Callable[[], str]) -> None:
    url = empty_database()
    starters = 4
    barrier = threading.Barrier(starters)
    results: list[list[int]] = []
    failures: list[BaseException] = []

    def start_up() -> None:
        try:
            with connect(url) as conn:
                barrier.wait(10)
                results.append(schema.migrate(conn))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=start_up) for _ in range(starters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    shipped = [version for version, _, _ in schema.available()]
    assert sorted(results, key=len) == [[]] * (starters - 1) + [shipped], "exactly one start-up applied them"
    assert [version for version, _ in recorded(url)] == shipped
