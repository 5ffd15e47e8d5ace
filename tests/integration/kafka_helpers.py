"""Small helpers for integration tests against the real broker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from confluent_kafka.admin import NewTopic

from shared.bus.bootstrap import admin_client
from shared.bus.consumer import ConsumerLoop
from shared.bus.dead_letters import DeadLetter
from shared.bus.reader import read_to_end
from shared.bus.topics import DEAD_LETTERS
from shared.settings import Settings


def create_topic(settings: Settings, name: str, partitions: int = 1, config: dict[str, str] | None = None) -> str:
    admin = admin_client(settings)  # must outlive the future, or librdkafka cancels the request
    admin.create_topics([NewTopic(name, partitions, 1, config=config or {})])[name].result(30)
    return name


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {message}")


@contextmanager
def running(loop: ConsumerLoop) -> Iterator[threading.Thread]:
    """Run a consumer loop in a thread for the duration of the block, then stop it gracefully."""
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        loop.stop()
        thread.join(timeout=30)
        assert not thread.is_alive(), "consumer loop did not stop within 30s"


def dead_letters_from(settings: Settings, group: str) -> list[DeadLetter]:
    return [
        d
        for d in (DeadLetter.from_record(r) for r in read_to_end(settings, [DEAD_LETTERS]))
        if d.consumer_group == group
    ]
