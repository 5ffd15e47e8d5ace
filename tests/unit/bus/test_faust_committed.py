"""The consumer faust apps get from ``shared.bus.faust_committed``: it reads committed records only, and its
fetches wait at most ``FETCH_MAX_WAIT_MS`` for records (faust's 1.5 s let a quiet topic pace a busy one)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiokafka.consumer.consumer as aiokafka_consumer
import pytest

from shared.bus.faust_committed import FETCH_MAX_WAIT_MS, READ_COMMITTED, CommittedConsumer
from shared.bus.faust_stream import make_app
from shared.settings import Settings


class FetcherBuilt(Exception):
    """Raised by the stand-in Fetcher: what the consumer's start handed it is all the test needs."""


def test_the_worker_consumer_s_fetcher_reads_committed_records_with_short_fetch_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed: dict[str, Any] = {}

    def fetcher(*_: Any, **options: Any) -> None:
        handed.update(options)
        raise FetcherBuilt

    async def nothing() -> None:
        return None

    monkeypatch.setattr(aiokafka_consumer, "Fetcher", fetcher)

    async def start_worker_consumer() -> None:
        settings = Settings(kafka_bootstrap_servers="127.0.0.1:1", kafka_security_protocol="PLAINTEXT")
        app = make_app("committed-unit", settings.model_copy(update={"data_dir": tmp_path}))
        consumer = app.consumer
        assert isinstance(consumer, CommittedConsumer)
        worker = consumer._new_consumer_thread()._create_worker_consumer(app.transport)
        # No broker: the consumer's start is followed up to the fetcher it builds from its settings.
        monkeypatch.setattr(worker._client, "bootstrap", nothing)
        monkeypatch.setattr(worker, "_wait_topics", nothing)
        try:
            with pytest.raises(FetcherBuilt):
                await worker.start()
        finally:
            await worker._client.close()

    asyncio.run(start_worker_consumer())
    assert handed["isolation_level"] == READ_COMMITTED
    assert handed["fetch_max_wait_ms"] == FETCH_MAX_WAIT_MS < 1500
