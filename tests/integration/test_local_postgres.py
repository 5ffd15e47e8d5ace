"""The local Postgres tooling: an embedded server that psycopg can use, fresh databases, DATABASE_URL first."""

from __future__ import annotations

from collections.abc import Iterator

import psutil
import psycopg
import pytest

from shared.infra import postgres_server

SERVER = "itest"  # not "test": the session fixture's server must not be stopped under other tests


@pytest.fixture(scope="module")
def admin_url() -> Iterator[str]:
    url = postgres_server.start(SERVER)
    yield url
    postgres_server.stop(SERVER)


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_embedded_server_url_accepts_psycopg_connections(admin_url: str) -> None:
    with psycopg.connect(admin_url) as connection:
        version = connection.execute("SHOW server_version_num").fetchone()

    assert version is not None
    assert int(version[0]) >= 160000


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_start_reuses_the_running_server(admin_url: str) -> None:
    with psycopg.connect(admin_url) as connection:
        started_before = connection.execute("SELECT pg_postmaster_start_time()").fetchone()

    assert postgres_server.start(SERVER) == admin_url
    with psycopg.connect(admin_url) as connection:
        assert connection.execute("SELECT pg_postmaster_start_time()").fetchone() == started_before


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_fresh_database_is_empty_even_when_it_existed_with_tables(admin_url: str) -> None:
    first = postgres_server.fresh_database(admin_url, "itest_fresh")
    with psycopg.connect(first) as connection:
        connection.execute("CREATE TABLE leftover (id int)")

    url = postgres_server.fresh_database(admin_url, "itest_fresh")

    with psycopg.connect(url) as connection:
        database, tables = connection.execute(
            "SELECT current_database(), count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert (database, tables) == ("itest_fresh", 0)


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_fresh_database_drops_connections_left_open_on_the_old_one(admin_url: str) -> None:
    url = postgres_server.fresh_database(admin_url, "itest_busy")
    with psycopg.connect(url) as lingering:
        again = postgres_server.fresh_database(admin_url, "itest_busy")

        assert again == url
        with pytest.raises(psycopg.OperationalError):
            lingering.execute("SELECT 1")


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_database_url_is_the_environment_variable_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://someone@db.example/architect")

    assert postgres_server.database_url("itest-never-started") == "postgresql://someone@db.example/architect"
    assert postgres_server.running_url("itest-never-started") is None


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_database_url_starts_the_embedded_server_when_the_variable_is_unset(
    admin_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)

    assert postgres_server.database_url(SERVER) == admin_url


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_stop_ends_the_embedded_server() -> None:
    url = postgres_server.start("itest-stop")

    assert postgres_server.stop("itest-stop") is True

    assert postgres_server.running_url("itest-stop") is None
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=3)


def test_with_database_swaps_the_database_in_urls_and_connection_strings() -> None:
    socket_url = "postgresql://postgres:@/postgres?host=/tmp/pg"

    assert postgres_server.with_database(socket_url, "x") == "postgresql://postgres:@/x?host=/tmp/pg"
    assert postgres_server.with_database("postgres://u:p@h:5433/a", "b") == "postgres://u:p@h:5433/b"
    assert psycopg.conninfo.conninfo_to_dict(postgres_server.with_database("host=h dbname=a", "b")) == {
        "host": "h",
        "dbname": "b",
    }


def _tables(url: str) -> list[str]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return [row[0] for row in rows]


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_a_clean_start_begins_from_an_empty_data_directory() -> None:
    url = postgres_server.start("itest-clean")
    try:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("CREATE TABLE left_by_an_earlier_session (id int)")
        postgres_server.stop("itest-clean")

        assert "left_by_an_earlier_session" in _tables(postgres_server.start("itest-clean"))
        postgres_server.stop("itest-clean")

        assert _tables(postgres_server.start("itest-clean", clean=True)) == []
    finally:
        postgres_server.stop("itest-clean")


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_a_server_killed_mid_write_is_recovered_with_its_committed_data() -> None:
    url = postgres_server.start("itest-killed", clean=True)
    try:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("CREATE TABLE committed (id int)")
            connection.execute("INSERT INTO committed SELECT generate_series(1, 10000)")
            pid = connection.execute("SELECT pg_backend_pid()").fetchone()
            postmaster = psutil.Process(int(pid[0])).parent()
            postmaster.kill()
        postmaster.wait(10)
        assert postgres_server.running_url("itest-killed") is None

        recovered = postgres_server.start("itest-killed")

        assert "database system was interrupted" in (postgres_server.data_dir("itest-killed") / "log").read_text()
        with psycopg.connect(recovered) as connection:
            assert connection.execute("SELECT count(*) FROM committed").fetchone() == (10000,)
    finally:
        postgres_server.stop("itest-killed")


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_a_server_that_never_gets_ready_is_reported_with_its_log() -> None:
    postgres_server.start("itest-stop")
    postgres_server.stop("itest-stop")

    with pytest.raises(RuntimeError, match=r"embedded Postgres 'itest-stop' is not running after 1 s; its log ends:"):
        postgres_server._wait_until_ready("itest-stop", 1.0)


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_drop_database_removes_it_and_is_quiet_when_it_is_gone(admin_url: str) -> None:
    postgres_server.fresh_database(admin_url, "itest_dropped")

    postgres_server.drop_database(admin_url, "itest_dropped")
    postgres_server.drop_database(admin_url, "itest_dropped")

    with psycopg.connect(admin_url) as connection:
        assert connection.execute("SELECT 1 FROM pg_database WHERE datname = 'itest_dropped'").fetchone() is None
