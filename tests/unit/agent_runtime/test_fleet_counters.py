"""The runtime notes counter changes as they happen and applies them when it publishes, each counter with all of
its changes applied in order and published once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.agent_runtime.fleet_replica import MAX_UPDATE_ATTEMPTS, FleetReplica
from shared.crdt import fleet_state
from shared.settings import Settings


class FakeReplica:
    """The CRDT replica's deferred updates, in memory: ``publish_pending`` returns what it would publish."""

    def __init__(self) -> None:
        self.objects: dict[str, Any] = {}
        self.pending: set[str] = set()
        self.published: list[list[str]] = []

    def update(self, name: str, change: Callable[[Any], Any], *, defer: bool = False, **_: Any) -> Any:
        self.objects[name] = change(self.objects.get(name))
        self.pending.add(name)
        return self.objects[name]

    def publish_pending(self) -> int:
        names = sorted(self.pending)
        self.published.append(names)
        self.pending.clear()
        return len(names)


def fleet() -> tuple[FleetReplica, FakeReplica]:
    runtime = FleetReplica(Settings(), "rt-1", producer=None)  # type: ignore[arg-type]
    fake = FakeReplica()
    runtime.replica = fake  # type: ignore[assignment]
    return runtime, fake


def test_changes_are_applied_only_when_their_counter_is_published() -> None:
    runtime, fake = fleet()
    runtime.attempt_started("a1", "t1", 1)
    runtime.task_completed("a1", "code", "t1")
    runtime.attempt_ended("a1", "t1", 1)
    assert fake.objects == {}
    assert runtime.publish() == 3
    assert fake.objects[fleet_state.in_flight_counter("a1")].value == 0  # started, then ended: in order
    assert fake.objects[fleet_state.in_flight_counter("a1")].increments.value == 1
    assert fake.objects[fleet_state.completed_counter("agent", "a1")].value == 1
    assert fake.objects[fleet_state.completed_counter("capability", "code")].value == 1
    assert runtime.publish() == 0


def test_a_task_reported_twice_before_a_publish_counts_once() -> None:
    runtime, fake = fleet()
    runtime.task_completed("a1", "code", "t1")
    runtime.task_completed("a1", "code", "t1")
    runtime.publish()
    runtime.task_completed("a1", "code", "t1")
    runtime.publish()
    assert fake.objects[fleet_state.completed_counter("agent", "a1")].value == 1


def failing_updates(fake: FakeReplica, failing: str, times: int) -> None:
    """Make ``fake``'s updates of counter ``failing`` raise, ``times`` times."""
    real_update = fake.update
    left = [times]

    def update(name: str, change: Callable[[Any], Any], **options: Any) -> Any:
        if name == failing and left[0] > 0:
            left[0] -= 1
            raise RuntimeError("the replica could not apply it")
        return real_update(name, change, **options)

    fake.update = update  # type: ignore[method-assign]


def test_notes_whose_update_raised_are_applied_by_the_next_publish_and_the_others_at_once() -> None:
    runtime, fake = fleet()
    runtime.task_completed("a1", "code", "t1")
    runtime.attempt_started("a1", "t1", 1)
    failing = fleet_state.completed_counter("capability", "code")
    failing_updates(fake, failing, times=1)

    assert runtime.publish() == 2  # the agent's completed tasks and its tasks in flight
    assert failing not in fake.objects
    assert fake.objects[fleet_state.in_flight_counter("a1")].value == 1

    assert runtime.publish() == 1
    assert fake.objects[failing].value == 1
    assert fake.objects[fleet_state.completed_counter("agent", "a1")].value == 1


def test_a_counter_that_keeps_failing_has_its_notes_dropped_after_the_last_attempt() -> None:
    runtime, fake = fleet()
    failing = fleet_state.completed_counter("capability", "code")
    failing_updates(fake, failing, times=MAX_UPDATE_ATTEMPTS)
    runtime.task_completed("a1", "code", "t1")
    for _ in range(MAX_UPDATE_ATTEMPTS):
        runtime.publish()
    assert failing not in fake.objects
    runtime.task_completed("a1", "code", "t2")  # noted after the drop: counted
    runtime.publish()
    assert fake.objects[failing].value == 1
    assert fake.objects[fleet_state.completed_counter("agent", "a1")].value == 2


def test_a_failure_count_starts_again_after_a_success_and_notes_noted_meanwhile_are_kept() -> None:
    runtime, fake = fleet()
    failing = fleet_state.completed_counter("capability", "code")
    failing_updates(fake, failing, times=MAX_UPDATE_ATTEMPTS - 1)
    runtime.task_completed("a1", "code", "t1")
    for index in range(MAX_UPDATE_ATTEMPTS - 1):
        runtime.publish()
        runtime.task_completed("a1", "code", f"t{index + 2}")
    runtime.publish()  # succeeds: every task noted so far counts
    assert fake.objects[failing].value == MAX_UPDATE_ATTEMPTS
    failing_updates(fake, failing, times=MAX_UPDATE_ATTEMPTS - 1)
    runtime.task_completed("a1", "code", "t-late")
    for _ in range(MAX_UPDATE_ATTEMPTS - 1):
        runtime.publish()  # fails again, fewer times than the limit: kept
    runtime.publish()
    assert fake.objects[failing].value == MAX_UPDATE_ATTEMPTS + 1


def test_close_ends_the_sessions_and_stops_following_even_when_publishing_the_counters_fails() -> None:
    runtime, fake = fleet()
    closed: list[bool] = []

    def refuse() -> int:
        raise RuntimeError("the producer refused a counter")

    fake.publish_pending = refuse  # type: ignore[method-assign]
    fake.flush = lambda: None  # type: ignore[attr-defined]
    fake.close = lambda: closed.append(True)  # type: ignore[attr-defined]
    runtime._sessions["a1"] = "tag-1"
    runtime.task_completed("a1", "code", "t1")
    runtime.close()
    assert runtime._sessions == {} and closed == [True]
    assert fleet_state.SESSIONS in fake.objects  # the session's end was applied
