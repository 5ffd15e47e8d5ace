"""The metrics port answers Kubernetes probes: /healthz always, /readyz only while the service is marked ready."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import Iterator

import faust
import pytest
from prometheus_client import CollectorRegistry, Counter

from shared import health


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def port() -> Iterator[int]:
    registry = CollectorRegistry()
    Counter("probe_requests_total", "A metric only this test's registry has", registry=registry).inc(3)
    health.mark_not_ready()
    server = health.start_metrics_server(0, addr="127.0.0.1", registry=registry)
    yield server.server_port
    server.shutdown()
    server.server_close()
    health.mark_not_ready()


def test_liveness_answers_while_the_process_serves(port: int) -> None:
    assert _get(port, "/healthz") == (200, "ok\n")


def test_readiness_follows_the_service_state(port: int) -> None:
    assert _get(port, "/readyz") == (503, "not ready\n")
    health.mark_ready()
    assert _get(port, "/readyz") == (200, "ready\n")
    health.mark_not_ready()
    assert _get(port, "/readyz") == (503, "not ready\n")


def test_other_paths_still_serve_the_metrics(port: int) -> None:
    status, body = _get(port, "/metrics")
    assert status == 200
    assert "probe_requests_total 3.0" in body


def test_a_faust_service_is_ready_once_its_worker_runs_the_app_tasks() -> None:
    health.mark_not_ready()
    app = faust.App("health-probe-app", broker="kafka://127.0.0.1:1")
    health.mark_ready_once_started(app)
    assert not health.is_ready()
    try:
        # The worker runs every app task once tables are recovered; run them the same way.
        for task in app._app_tasks:
            asyncio.run(task())
        assert health.is_ready()
    finally:
        health.mark_not_ready()
