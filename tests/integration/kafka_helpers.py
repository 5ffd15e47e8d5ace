"""Small helpers for integration tests against the real broker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

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


class Runnable(Protocol):
    def run(self) -> None: ...

    def stop(self) -> None: ...


@contextmanager
def in_thread(service: Runnable, name: str, stop_timeout_s: float = 60.0) -> Iterator[threading.Thread]:
    """Run ``service.run`` in a thread for the duration of the block, then stop it and wait for it to end."""
    thread = threading.Thread(target=service.run, name=name, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        service.stop()
        thread.join(timeout=stop_timeout_s)
        assert not thread.is_alive(), f"{name} did not stop within {stop_timeout_s:g}s"


@contextmanager
def running(loop: ConsumerLoop) -> Iterator[threading.Thread]:
    """Run a consumer loop in a thread for the duration of the block, then stop it gracefully."""
    with in_thread(loop, "consumer loop", stop_timeout_s=30.0) as thread:
        yield thread


def dead_letters_from(settings: Settings, group: str) -> list[DeadLetter]:
    return [
        d
        for d in (DeadLetter.from_record(r) for r in read_to_end(settings, [DEAD_LETTERS]))
        if d.consumer_group == group
    ]
