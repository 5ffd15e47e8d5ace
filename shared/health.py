"""Liveness and readiness on the metrics port, so Kubernetes probes ask the service itself.

On ``ARCHITECT_METRICS_PORT`` every service answers:

| path | answer |
|---|---|
| ``/healthz`` | ``200 ok`` while the process serves HTTP (liveness) |
| ``/readyz`` | ``200 ready`` once the service said it runs (``mark_ready``), ``503`` before that and once it stops |
| anything else | the Prometheus metrics |
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.registry import Collector

LIVENESS_PATH = "/healthz"
READINESS_PATH = "/readyz"

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_ready = threading.Event()


def mark_ready() -> None:
    """The service has started and is doing its work: ``/readyz`` answers 200."""
    _ready.set()


def mark_not_ready() -> None:
    """The service is starting or stopping: ``/readyz`` answers 503."""
    _ready.clear()


def is_ready() -> bool:
    return _ready.is_set()


class _FaustApp(Protocol):
    def task(self, fun: Callable[[], Any]) -> Any: ...


def mark_ready_once_started(app: _FaustApp) -> None:
    """Mark a faust service ready when its worker has started (tables recovered, app tasks running)."""

    async def _started() -> None:
        mark_ready()

    app.task(_started)


def _plain(start_response: StartResponse, status: str, body: bytes) -> list[bytes]:
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    start_response(status, headers)
    return [body]


def with_health_routes(metrics_app: WsgiApp) -> WsgiApp:
    """``metrics_app`` with ``/healthz`` and ``/readyz`` answered in front of it."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == LIVENESS_PATH:
            return _plain(start_response, "200 OK", b"ok\n")
        if path == READINESS_PATH:
            if is_ready():
                return _plain(start_response, "200 OK", b"ready\n")
            return _plain(start_response, "503 Service Unavailable", b"not ready\n")
        return metrics_app(environ, start_response)

    return app


class _QuietHandler(WSGIRequestHandler):
    """No access log line for every probe and scrape."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


def start_metrics_server(port: int, addr: str = "0.0.0.0", registry: Collector = REGISTRY) -> WSGIServer:
    """Serve metrics and the probes on ``addr:port`` from a daemon thread (port 0 picks a free port)."""
    app = with_health_routes(make_wsgi_app(registry))
    server = make_server(addr, port, app, ThreadingWSGIServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics-server", daemon=True).start()
    return server
