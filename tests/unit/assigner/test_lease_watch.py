"""The assigner follows the lock manager's leases only while a task waits for a retry after a lock conflict."""

from __future__ import annotations

from typing import Any

import pytest

from services.assigner import lease_watch
from services.assigner.lease_watch import IDLE_S, RETRY_START_S, LeaseWatch
from services.locks.lock_table import FILE_LOCKS
from shared.crdt.lww_map import LWWMap
from shared.settings import Settings


class FakeReplica:
    """Stands for ``Replica``: records starts and closes; caught up and holding ``state`` as the test says."""

    made: list[FakeReplica] = []
    fail_start = False

    def __init__(self, _settings: Settings, replica_id: str, *, producer: Any, objects: tuple[str, ...]) -> None:
        assert objects == (FILE_LOCKS,)
        self.replica_id, self.started, self.closed, self.caught_up = replica_id, False, False, False
        self.state: Any = LWWMap()
        FakeReplica.made.append(self)

    def start(self) -> FakeReplica:
        if FakeReplica.fail_start:
            raise RuntimeError("broker away")
        self.started = True
        return self

    def wait_caught_up(self, _timeout: float) -> bool:
        return self.caught_up

    def get(self, name: str) -> Any:
        assert name == FILE_LOCKS
        return self.state

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> LeaseWatch:
    FakeReplica.made, FakeReplica.fail_start = [], False
    monkeypatch.setattr(lease_watch, "Replica", FakeReplica)
    return LeaseWatch(Settings(), "assigner-0", producer=None)  # type: ignore[arg-type]


def test_nothing_is_followed_while_no_task_needs_the_leases(watch: LeaseWatch) -> None:
    assert watch.grants(False, 0.0) is None
    assert FakeReplica.made == [] and not watch.following


def test_the_leases_are_followed_from_the_first_need_and_answered_once_caught_up(watch: LeaseWatch) -> None:
    assert watch.grants(True, 0.0) is None, "not caught up yet"
    (replica,) = FakeReplica.made
    assert replica.started and watch.following
    replica.caught_up = True
    assert watch.grants(True, 1.0) is replica.state
    replica.state = None  # no file-locks object yet
    assert watch.grants(True, 2.0) is None
    assert len(FakeReplica.made) == 1, "one replica for the whole episode"


def test_following_stops_a_while_after_the_last_need_and_starts_afresh_later(watch: LeaseWatch) -> None:
    watch.grants(True, 0.0)
    (first,) = FakeReplica.made
    watch.grants(False, IDLE_S)
    assert not first.closed, "kept for a while"
    watch.grants(False, IDLE_S + 1)
    assert first.closed and not watch.following
    watch.grants(True, IDLE_S + 2)
    assert len(FakeReplica.made) == 2 and FakeReplica.made[1].started


def test_a_replica_that_cannot_start_is_tried_again_later(watch: LeaseWatch) -> None:
    FakeReplica.fail_start = True
    assert watch.grants(True, 0.0) is None and not watch.following
    watch.grants(True, RETRY_START_S - 1)
    assert len(FakeReplica.made) == 1, "not retried at once"
    FakeReplica.fail_start = False
    watch.grants(True, RETRY_START_S)
    assert len(FakeReplica.made) == 2 and watch.following
