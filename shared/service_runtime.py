"""What every service entry point does: settings, logging, tracing, metrics, schema, signals, run."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from typing import Protocol

from shared.db.connection import connect, database_url
from shared.db.schema import migrate
from shared.health import mark_not_ready, mark_ready
from shared.heap import freeze_startup_heap
from shared.metrics import serve_metrics
from shared.settings import Settings, get_settings
from shared.tracing import configure_tracing


class Service(Protocol):
    def run(self) -> None: ...
    def stop(self) -> None: ...


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run_service(name: str, build: Callable[[Settings, str | None], Service], *, needs_database: bool = False) -> None:
    """Run one service in the foreground until SIGTERM/SIGINT, then stop it gracefully."""
    settings = get_settings()
    configure_logging(settings.log_level)
    provider = configure_tracing(name)
    serve_metrics(settings.metrics_port)
    url = None
    if needs_database:
        url = database_url(settings)
        with connect(url) as conn:
            migrate(conn)
    service = build(settings, url)

    def stop(*_: object) -> None:
        mark_not_ready()
        service.stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    logging.getLogger(name).info("%s started", name)
    freeze_startup_heap()
    mark_ready()
    try:
        service.run()
    finally:
        if provider is not None:
            provider.shutdown()
        logging.getLogger(name).info("%s stopped", name)
