"""``ARCHITECT_PRODUCER_LINGER_MS`` reaches every producer: librdkafka's (not a transactional one's) and faust's."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.bus.faust_stream import make_app
from shared.bus.producer import TRANSACTION_LINGER_MS, producer_config
from shared.settings import Settings


def test_the_default_linger_is_5_ms() -> None:
    assert producer_config(Settings(), client_id="svc")["linger.ms"] == 5


def test_the_environment_sets_a_plain_producers_linger(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHITECT_PRODUCER_LINGER_MS", "20")
    settings = Settings()
    assert producer_config(settings, client_id="svc")["linger.ms"] == 20
    # A transaction's records wait for its commit anyway: its producer keeps its own linger.
    assert producer_config(settings, client_id="svc", transactional_id="svc-0")["linger.ms"] == TRANSACTION_LINGER_MS


def test_a_faust_apps_producer_lingers_as_configured(tmp_path: Path) -> None:
    app = make_app("linger-probe", Settings(producer_linger_ms=20, data_dir=tmp_path))
    assert app.conf.producer_linger == pytest.approx(0.020)


@pytest.mark.parametrize("value", ["-1", "5000", "soon", "2.5"])
def test_a_linger_out_of_range_is_refused_with_its_name(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ARCHITECT_PRODUCER_LINGER_MS", value)
    with pytest.raises(ValidationError, match="producer_linger_ms"):
        Settings()
