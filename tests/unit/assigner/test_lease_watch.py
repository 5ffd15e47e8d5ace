"""The assigner follows the lock manager's leases only while a task waits for a retry after a lock conflict, and
starts following on a helper thread, never blocking its consumer loop."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from services.assigner import lease_watch
from services.assigner.lease_watch import IDLE_S, RETRY_START_S, LeaseWatch
from services.locks.lock_table import FILE_LOCKS
from shared.crdt.lww_map import LWWMap
from shared.settings import Settings


class FakeReplica:
    """Stands for ``Replica``: records starts (on which thread) and closes; caught up and holding ``state`` as the
    test says. A start waits for ``gate`` and fails while ``fail_start``."""

    made: list[FakeReplica] = []
    fail_start = False
    gate = threading.Event()

    def __init__(self, _settings: Settings, replica_id: str, *, producer: Any, objects: tuple[str, ...]) -> None:
        assert objects == (FILE_LOCKS,)
        self.replica_id, self.started_on, self.closed, self.caught_up = replica_id, "", False, False
        self.follower_died = False
        self.state: Any = LWWMap()
        FakeReplica.made.append(self)

    def start(self) -> FakeReplica:
        FakeReplica.gate.wait(5)
        if FakeReplica.fail_start:
            raise RuntimeError("broker away")
        self.started_on = threading.current_thread().name
        return self

    @property
    def alive(self) -> bool:
        return bool(self.started_on) and not self.closed and not self.follower_died

    def wait_caught_up(self, _timeout: float) -> bool:
        return self.caught_up

    def get(self, name: str) -> Any:
        assert name == FILE_LOCKS
        return self.state

    def close(self) -> None:
        self.closed = True


@pytest.fixture(autouse=True)
def fake_replicas(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeReplica.made, FakeReplica.fail_start = [], False
    FakeReplica.gate.set()
    monkeypatch.setattr(lease_watch, "Replica", FakeReplica)


@pytest.fixture
def watch() -> LeaseWatch:
    return LeaseWatch(Settings(), "assigner-0", producer=None)  # type: ignore[arg-type]


def settle(watch: LeaseWatch, now: float) -> None:
    """Ask (needed) until the start under way has ended."""
    deadline = time.monotonic() + 5
    watch.grants(True, now)
    while watch.starting and time.monotonic() < deadline:
        time.sleep(0.01)
        watch.grants(True, now)
    assert not watch.starting


def test_nothing_is_followed_while_no_task_needs_the_leases(watch: LeaseWatch) -> None:
    assert watch.grants(False, 0.0) is None
    assert FakeReplica.made == [] and not watch.following and not watch.starting


def test_following_starts_on_a_helper_thread_and_answers_once_caught_up(watch: LeaseWatch) -> None:
    FakeReplica.gate.clear()  # the start hangs (a broker that does not answer)
    assert watch.grants(True, 0.0) is None and watch.starting, "the loop's call returned at once"
    assert watch.grants(True, 1.0) is None and len(FakeReplica.made) == 1, "one start at a time"
    FakeReplica.gate.set()
    settle(watch, 2.0)
    (replica,) = FakeReplica.made
    assert watch.following and replica.started_on.startswith("lease-watch-start")
    assert watch.grants(True, 3.0) is None, "not caught up yet"
    replica.caught_up = True
    assert watch.grants(True, 4.0) is replica.state
    replica.state = None  # no file-locks object yet
    assert watch.grants(True, 5.0) is None
    assert len(FakeReplica.made) == 1, "one replica for the whole episode"
    watch.close()


def test_following_stops_a_while_after_the_last_need_and_starts_afresh_later(watch: LeaseWatch) -> None:
    settle(watch, 0.0)
    (first,) = FakeReplica.made
    watch.grants(False, IDLE_S)
    assert not first.closed, "kept for a while"
    watch.grants(False, IDLE_S + 1)
    assert first.closed and not watch.following
    settle(watch, IDLE_S + 2)
    assert len(FakeReplica.made) == 2 and watch.following
    watch.close()
    assert FakeReplica.made[1].closed


def test_a_replica_that_cannot_start_is_tried_again_later(watch: LeaseWatch) -> None:
    FakeReplica.fail_start = True
    settle(watch, 0.0)  # the failure is noticed at 0
    assert not watch.following
    watch.grants(True, RETRY_START_S - 1)
    assert len(FakeReplica.made) == 1 and not watch.starting, "not tried again at once"
    FakeReplica.fail_start = False
    settle(watch, RETRY_START_S)
    assert len(FakeReplica.made) == 2 and watch.following
    watch.close()


def test_a_start_still_under_way_when_following_stops_is_closed_once_it_ends(watch: LeaseWatch) -> None:
    FakeReplica.gate.clear()
    watch.grants(True, 0.0)
    watch.close()
    FakeReplica.gate.set()
    (replica,) = FakeReplica.made
    deadline = time.monotonic() + 5
    while not replica.closed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert replica.closed and not watch.following


def test_a_replica_whose_follower_thread_ended_is_closed_and_followed_again_later(watch: LeaseWatch) -> None:
    """Its view no longer moves, so a lease released since would never be seen: serving it would be wrong."""
    settle(watch, 0.0)
    first = FakeReplica.made[0]
    first.caught_up = True
    assert watch.grants(True, 1.0) is first.state
    first.follower_died = True
    assert watch.grants(True, 2.0) is None
    assert first.closed and not watch.following and not watch.starting
    assert watch.grants(True, 2.0 + RETRY_START_S - 1) is None and len(FakeReplica.made) == 1
    settle(watch, 2.0 + RETRY_START_S)
    assert len(FakeReplica.made) == 2 and watch.following
