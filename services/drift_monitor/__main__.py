"""Entry point: run the drift monitor's faust worker until SIGTERM."""

from __future__ import annotations

import sys

from services.drift_monitor.service import build_app
from shared.health import mark_ready_once_started
from shared.heap import freeze_once_started
from shared.metrics import serve_metrics
from shared.service_runtime import configure_logging
from shared.settings import get_settings
from shared.tracing import configure_tracing


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level)
    configure_tracing("drift-monitor")
    serve_metrics(settings.metrics_port)
    app = build_app(settings)
    mark_ready_once_started(app)
    freeze_once_started(app)
    # faust's own command line runs the worker and turns SIGTERM into a clean shutdown.
    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn", "--without-web"]
    app.main()


if __name__ == "__main__":
    main()
