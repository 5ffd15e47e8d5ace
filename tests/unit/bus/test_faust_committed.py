"""The consumer faust apps get from ``shared.bus.faust_committed``: it reads committed records only, and its
fetches wait at most ``FETCH_MAX_WAIT_MS`` for records (faust's 1.5 s let a quiet topic pace a busy one)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from shared.bus.faust_committed import FETCH_MAX_WAIT_MS, READ_COMMITTED, CommittedConsumer
from shared.bus.faust_stream import make_app
from shared.settings import Settings


def test_the_worker_consumer_reads_committed_records_with_short_fetch_waits(tmp_path: Path) -> None:
    async def create() -> tuple[str, int]:
        app = make_app("committed-unit", Settings(kafka_bootstrap_servers="127.0.0.1:1", data_dir=tmp_path))
        consumer = app.consumer
        assert isinstance(consumer, CommittedConsumer)
        thread = consumer._new_consumer_thread()
        worker = thread._create_worker_consumer(app.transport)
        return worker._isolation_level, worker._fetch_max_wait_ms

    isolation, fetch_wait_ms = asyncio.run(create())
    assert isolation == READ_COMMITTED
    assert fetch_wait_ms == FETCH_MAX_WAIT_MS == 50
