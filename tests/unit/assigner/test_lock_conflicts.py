"""A task given back because its files were locked (``lock_conflict``): retried per the policy, never charged
to the agent's breaker; tasks waiting for file leases (heartbeat ``lease_waits``) hold none of its capacity."""

from __future__ import annotations

from services.assigner.breaker import BreakerConfig, CircuitBreaker
from services.assigner.lock_wake import may_retry_now
from services.assigner.registry import AgentRegistry
from services.assigner.retry_policy import (
    ERROR_CLASSES,
    NOT_AGENT_FAULTS,
    adaptive_policy,
    exponential_policy,
    next_retry,
)
from services.assigner.routing import Assign, route
from services.assigner.task_book import TrackedTask
from services.locks.lock_table import LockTable
from shared.crdt.lww_map import LWWMap
from tests.unit.assigner.fleet import NOW, task


def coder(capacity: int = 1) -> AgentRegistry:
    return AgentRegistry().register("coder", {"code"}, NOW, capacity=capacity)


def test_lock_conflicts_are_retried_soon_and_often_under_every_policy() -> None:
    assert "lock_conflict" in ERROR_CLASSES and {"lock_conflict"} == NOT_AGENT_FAULTS
    delays = [next_retry(adaptive_policy(jitter_ratio=0), "lock_conflict", n).delay_s for n in range(1, 6)]
    assert delays == [2.0, 4.0, 8.0, 16.0, 32.0]
    assert not next_retry(adaptive_policy(jitter_ratio=0), "lock_conflict", 6).retry
    assert next_retry(exponential_policy(), "lock_conflict", 1).retry


def test_a_task_given_back_frees_its_load_without_touching_the_breaker() -> None:
    agents = coder().record_assignment("coder", NOW).record_failure("coder", NOW)
    failures = agents.get("coder").breaker.consecutive_failures
    agents = agents.record_assignment("coder", NOW).record_given_back("coder", NOW + 1)
    view = agents.get("coder")
    assert (view.in_flight, view.breaker.consecutive_failures, view.breaker.state) == (0, failures, "closed")


def test_giving_back_many_times_never_opens_the_breaker() -> None:
    agents = coder()
    for n in range(10):
        agents = agents.record_assignment("coder", NOW + n).record_given_back("coder", NOW + n)
    assert agents.get("coder").breaker.state_at(NOW + 10) == "closed"


def test_in_half_open_a_given_back_probe_frees_its_slot_and_counts_nothing() -> None:
    config = BreakerConfig(failure_threshold=1, open_timeout_s=10, half_open_max_probes=1)
    opened = CircuitBreaker(config).record_failure(NOW)
    probing = opened.record_dispatch(NOW + 10)
    assert probing.state == "half_open" and not probing.allows(NOW + 10)
    back = probing.record_neutral(NOW + 11)
    assert back.allows(NOW + 11) and (back.state, back.consecutive_successes) == ("half_open", 0)
    assert CircuitBreaker(config).record_neutral(NOW) == CircuitBreaker(config)


def test_tasks_waiting_for_leases_hold_no_capacity() -> None:
    agents = coder(capacity=1).record_assignment("coder", NOW)
    assert agents.get("coder").free_capacity == 0
    waiting = agents.heartbeat("coder", NOW + 1, lease_waits=1)
    view = waiting.get("coder")
    assert (view.in_flight, view.busy, view.free_capacity, view.load) == (1, 0, 1, 0.0)
    decision = route(task(), waiting.views(), NOW + 1, "least_loaded")
    assert isinstance(decision, Assign) and decision.agent_id == "coder"
    # A heartbeat older than the assignments it should count never makes capacity out of nothing.
    stale = coder(capacity=1).heartbeat("coder", NOW, lease_waits=3)
    assert stale.get("coder").busy == 0 and stale.get("coder").free_capacity == 1
    assert waiting.heartbeat("coder", NOW + 2).get("coder").lease_waits == 1, "a heartbeat without it keeps it"


def test_lease_waits_survive_serialisation() -> None:
    agents = coder().record_assignment("coder", NOW).heartbeat("coder", NOW, lease_waits=1)
    again = AgentRegistry.from_dict(agents.to_dict())
    assert again.get("coder").lease_waits == 1 and again.get("coder").free_capacity == 1


def given_back_for(files: tuple[str, ...]) -> TrackedTask:
    """A task whose first attempt, on alice, was given back for a lock conflict on ``files``."""
    tracked = TrackedTask("g/edit", "g", "edit", "code", NOW, inputs={"files": list(files)})
    return tracked.assigned("alice").waiting_for_retry(files, cause="failed-1")


def leases(held: dict[str, float], released: tuple[str, ...] = (), ignored: tuple[str, ...] = ()) -> LWWMap:
    """The lock manager's leases: bob granted each path of ``held`` for that many seconds at NOW, then bob
    released those in ``released``, and carol (not the holder: ignored) those in ``ignored``."""
    table = LockTable()
    for path, lease_s in held.items():
        table, decision = table.acquire(path, "bob", f"bob-{path}", lease_s, at=NOW, task_id="g/review")
        assert decision.outcome == "granted"
    for path in released:
        table, _ = table.release(path, "bob", f"bob-{path}", at=NOW + 0.1)
    for path in ignored:
        table, decision = table.release(path, "carol", "carol-1", at=NOW + 0.1)
        assert decision.outcome == "ignored"
    return table.grants


NOW_MS = int(NOW * 1000)


def test_a_task_is_retried_early_once_none_of_its_files_has_a_live_lease() -> None:
    waiting = given_back_for(("src/a.py", "src/b.py"))
    later = NOW_MS + 1000
    assert (waiting.state, waiting.attempt, waiting.retry_cause) == ("retry_wait", 2, "failed-1")
    assert not may_retry_now(waiting, leases({"src/a.py": 60}), later), "held"
    assert not may_retry_now(waiting, leases({"src/a.py": 60}, ignored=("src/a.py",)), later), "release ignored"
    assert may_retry_now(waiting, leases({"src/a.py": 60}, released=("src/a.py",)), later), "released"
    assert may_retry_now(waiting, leases({"src/a.py": 0.5}), later), "expired unreleased"
    assert may_retry_now(waiting, leases({"src/other.py": 60}), later), "only others' files held"
    assert not may_retry_now(waiting, leases({"src/a.py": 60, "src/b.py": 60}, released=("src/a.py",)), later)


def test_only_a_task_waiting_for_a_lock_conflict_retry_is_retried_early() -> None:
    free = LWWMap()
    assert not may_retry_now(given_back_for(("src/a.py",)), None, NOW_MS), "no leases seen yet"
    retried = given_back_for(("src/a.py",)).retry_due(2)
    assert (retried.state, retried.waiting_for_files) == ("pending", ())
    assert not may_retry_now(retried, free, NOW_MS)
    other_failure = TrackedTask("g/t", "g", "edit", "code", NOW).assigned("alice").waiting_for_retry()
    assert not may_retry_now(other_failure, free, NOW_MS)


def test_the_files_waited_for_and_the_cause_survive_the_state_topic() -> None:
    waiting = given_back_for(("src/a.py",))
    again = TrackedTask.from_dict(waiting.to_dict())
    assert again == waiting
    written_before = {k: v for k, v in waiting.to_dict().items() if k not in ("waiting_for_files", "retry_cause")}
    old = TrackedTask.from_dict(written_before)
    assert (old.waiting_for_files, old.retry_cause) == ((), None)
