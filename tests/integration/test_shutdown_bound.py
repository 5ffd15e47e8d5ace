"""A faust service asked to stop after its broker went away exits within its shutdown bound."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from shared.bus.bootstrap import ensure_topics
from shared.bus.shutdown_deadline import EXIT_CODE_SHUTDOWN_TIMEOUT
from shared.infra.kafka_broker import LocalKafka
from shared.settings import Settings
from tests.integration.kafka_helpers import wait_for
from tests.ports import SHUTDOWN_BOUND_KAFKA, SHUTDOWN_BOUND_METRICS

pytestmark = pytest.mark.integration

METRICS_PORT = SHUTDOWN_BOUND_METRICS


def ready() -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{METRICS_PORT}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.timeout(240)
def test_an_orchestrator_whose_broker_died_still_stops_after_sigterm(tmp_path: Path) -> None:
    kafka = LocalKafka("shutdown-bound", SHUTDOWN_BOUND_KAFKA)  # a broker of its own: this test kills it
    bootstrap = kafka.start(clean=True)
    try:
        ensure_topics(Settings(kafka_bootstrap_servers=bootstrap, topic_partitions=1))
        env = os.environ | {
            "ARCHITECT_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "ARCHITECT_TOPIC_PARTITIONS": "1",
            "ARCHITECT_SHUTDOWN_TIMEOUT_S": "3",
            "ARCHITECT_METRICS_PORT": str(METRICS_PORT),
            "ARCHITECT_DATA_DIR": str(tmp_path),
        }
        with (tmp_path / "orchestrator.log").open("wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "services.orchestrator"], env=env, stdout=log, stderr=log)
            try:
                wait_for(ready, timeout=120, message="the orchestrator to be ready")
                kafka.stop()
                time.sleep(3)
                asked = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                code = proc.wait(60)
                took = time.monotonic() - asked
            finally:
                if proc.poll() is None:
                    proc.kill()
    finally:
        kafka.stop()
    assert took < 20, f"took {took:.0f}s to stop"
    assert code in (0, EXIT_CODE_SHUTDOWN_TIMEOUT), (tmp_path / "orchestrator.log").read_text()[-2000:]
