"""Postgres for local development and tests: ``$DATABASE_URL`` when set, else an embedded server.

The embedded server is pgserver's bundled PostgreSQL 16, with its data in ``<cache>/postgres/<name>`` and
listening only on a Unix socket in that directory. It outlives the process that started it, so the demo, the
services and the CLI share one; ``stop(name)`` ends it. Running as root works: pgserver runs the server as its own
unprivileged ``pgserver`` user.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import warnings
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from shared.infra.cache import cache_root

if TYPE_CHECKING:
    from pgserver.utils import PostmasterInfo

DATABASE_URL_ENV = "DATABASE_URL"
#: How long start() waits for the server to accept connections. pgserver's own pg_ctl wait gives up after 10 s,
#: but crash recovery of a data directory whose server was killed (or copied while running) can take longer.
READY_TIMEOUT_S = 300.0
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def database_url(name: str = "dev") -> str:
    """``$DATABASE_URL`` when set; otherwise the URL of the embedded server ``name``, started if needed."""
    configured = os.environ.get(DATABASE_URL_ENV)
    return configured if configured else start(name)


def data_dir(name: str = "dev") -> Path:
    """Where the embedded server ``name`` keeps its data (and its socket)."""
    if not _NAME_PATTERN.match(name):
        raise ValueError(f"server name {name!r} must be letters, digits, '.', '_' or '-'")
    return cache_root() / "postgres" / name


def start(name: str = "dev", *, clean: bool = False, ready_timeout_s: float = READY_TIMEOUT_S) -> str:
    """Start the embedded server ``name`` (or reuse it when running); returns its URL (database ``postgres``).

    ``clean=True`` starts a server that is not running from an empty data directory (the old one is deleted), so
    nothing an earlier session left (databases, a half-finished crash recovery) carries over. A server still
    recovering after an unclean stop is waited for, up to ``ready_timeout_s``, with its log tail on failure.
    """
    pgserver = _pgserver()
    directory = data_dir(name)
    if clean and running_url(name) is None and directory.exists():
        shutil.rmtree(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    try:
        # cleanup_mode=None: the server must outlive this process; stop() ends it explicitly.
        server = pgserver.get_server(directory, cleanup_mode=None)
        if running_url(name) is None:
            # pgserver caches handles per process; a handle from before a stop() (or a clean start's deletion)
            # needs its data directory initialised and its server started again.
            server.ensure_pgdata_inited()
            server.ensure_postgres_running()
    except subprocess.TimeoutExpired:
        pass  # pg_ctl stopped waiting, not the server: it is still starting (recovering); wait for it below
    return _wait_until_ready(name, ready_timeout_s)


def _wait_until_ready(name: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        info = _postmaster(name)
        if info is not None and info.status == "ready":
            return info.get_uri()
        if time.monotonic() > deadline:
            state = "not running" if info is None else f"still {info.status!r}"
            raise RuntimeError(
                f"embedded Postgres {name!r} is {state} after {timeout_s:.0f} s; its log ends:\n{_log_tail(name)}"
            )
        time.sleep(0.5)


def _log_tail(name: str, lines: int = 20) -> str:
    log = data_dir(name) / "log"
    if not log.exists():
        return "(no log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def running_url(name: str = "dev") -> str | None:
    """The URL of the embedded server ``name`` if it is running, else None. Starts nothing."""
    info = _postmaster(name)
    return info.get_uri() if info is not None else None


def stop(name: str = "dev", timeout: float = 30.0) -> bool:
    """Stop the embedded server ``name`` (fast shutdown); returns whether it was running."""
    if _postmaster(name) is None:
        return False
    pgserver = _pgserver()
    user = "pgserver" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
    pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir(name), user=user, timeout=timeout)
    return True


def fresh_database(admin_url: str, name: str) -> str:
    """Drop and re-create database ``name`` on the server behind ``admin_url``; returns the new database's URL.

    Open connections to the old database are terminated (``WITH (FORCE)``), so a crashed earlier test run
    cannot block the next one.
    """
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    """Drop database ``name`` if it exists, ending its open connections."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def ensure_database(admin_url: str, name: str) -> str:
    """Create database ``name`` unless it exists; returns its URL (its data is kept)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(admin_url, name)


def with_database(url: str, dbname: str) -> str:
    """``url`` pointing at database ``dbname`` instead; accepts URLs and ``key=value`` connection strings."""
    if "://" in url:
        parts = urlsplit(url)
        return urlunsplit(parts._replace(path=f"/{dbname}"))
    from psycopg.conninfo import make_conninfo

    return make_conninfo(url, dbname=dbname)


def _postmaster(name: str) -> PostmasterInfo | None:
    """The running server's ``postmaster.pid`` record, or None when it is not running."""
    _pgserver()
    from pgserver.utils import PostmasterInfo

    directory = data_dir(name)
    if not directory.exists():
        return None
    try:
        info = PostmasterInfo.read_from_pgdata(directory)
    except (KeyError, ValueError):
        return None  # postmaster.pid is being written by a server that is starting
    return info if info is not None and info.is_running() else None


def _pgserver() -> ModuleType:
    # pgserver resolves a runtime directory at import time and warns when XDG_RUNTIME_DIR is unset (as in CI
    # and containers); its fallback under /tmp is fine, so the warning is noise.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
    return pgserver
