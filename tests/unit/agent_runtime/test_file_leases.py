"""Lock checks before work starts: what a waiting task asks for, when it may run, when it gives up."""

from __future__ import annotations

import pytest

from services.agent_runtime.file_leases import (
    ANSWER_GRACE_S,
    RESEND_S,
    LeaseWait,
    LocalClaims,
    request_id,
)
from shared.events.task_files import BadFilesInput, declared_files

NOW = 1_000_000.0


def lease(holder: str, expires_s: float) -> dict[str, object]:
    return {"holder": holder, "request_id": "r", "granted_at_ms": 0, "expires_at_ms": int(expires_s * 1000)}


def wait(*paths: str, max_wait_s: float = 60.0) -> LeaseWait:
    return LeaseWait("alice", "g/code", 1, tuple(paths), NOW, max_wait_s)


def test_declared_files_are_sorted_distinct_paths_and_bad_ones_are_refused() -> None:
    assert declared_files({}) == ()
    assert declared_files({"files": ["b.py", "a.py", "b.py"]}) == ("a.py", "b.py")
    for bad in ("a.py", ["a.py", ""], [1], {"a": 1}):
        with pytest.raises(BadFilesInput):
            declared_files({"files": bad})


def test_free_files_are_asked_for_once_per_resend_interval_with_fresh_request_ids() -> None:
    first, status, asks = wait("a.py", "b.py").step({}, NOW)
    assert status == "waiting" and [path for path, _ in asks] == ["a.py", "b.py"]
    again, status, none = first.step({}, NOW + RESEND_S / 2)
    assert status == "waiting" and none == []
    _, _, resent = again.step({}, NOW + RESEND_S)
    assert {rid for _, rid in resent}.isdisjoint({rid for _, rid in asks})
    assert resent[0][1] == request_id("g/code", 1, "a.py", 2)


def test_it_runs_once_every_file_is_leased_to_its_agent() -> None:
    leases = {"a.py": lease("alice", NOW + 60), "b.py": lease("alice", NOW + 60)}
    _, status, asks = wait("a.py", "b.py").step(leases, NOW)
    assert status == "granted" and asks == []
    _, status, _ = wait("a.py", "b.py").step({"a.py": lease("alice", NOW + 60)}, NOW)
    assert status == "waiting"


def test_a_file_another_agent_holds_is_waited_for_until_released_or_expired() -> None:
    held = {"a.py": lease("bob", NOW + 10)}
    blocked, status, asks = wait("a.py").step(held, NOW)
    assert status == "waiting" and asks == [] and blocked.blocked_by == {"a.py": "bob"}
    _, status, asks = blocked.step(held, NOW + 9)
    assert asks == []
    _, status, asks = blocked.step(held, NOW + 10)  # expired: ask
    assert status == "waiting" and [p for p, _ in asks] == ["a.py"]
    _, _, asks = blocked.step({}, NOW + 5)  # released: ask
    assert [p for p, _ in asks] == ["a.py"]


def test_it_gives_up_after_the_lease_wait_limit_naming_the_files_and_holders() -> None:
    held = {"a.py": lease("bob", NOW + 600) | {"task_id": "g/review"}}
    blocked, status, _ = wait("a.py", "b.py", max_wait_s=30).step(held, NOW + 29)
    assert status == "waiting"
    after, status, _ = blocked.step(held, NOW + 30)
    assert status == "gave_up"
    assert after.reason(NOW + 30) == (
        "files locked by other tasks after waiting 30.0s (limit 30s): a.py held by bob (task g/review)"
    )


def test_with_nobody_in_the_way_it_waits_a_grace_for_the_lock_manager_to_answer() -> None:
    asked, status, _ = wait("a.py", max_wait_s=30).step({}, NOW + 30)
    assert status == "waiting" and asked.blocked_by == {}
    after, status, _ = asked.step({}, NOW + 30 + ANSWER_GRACE_S)
    assert status == "gave_up" and "no answer from the lock manager for a.py" in after.reason(NOW + 35)


def test_a_path_another_local_task_claims_blocks_it_by_that_task() -> None:
    blocked, status, asks = wait("a.py", "b.py").step({}, NOW, local={"a.py": "g/other"})
    assert status == "waiting" and [p for p, _ in asks] == ["b.py"]
    assert blocked.blocked_by == {"a.py": "alice (task g/other)"}
    # Our own lease on a path another local task claimed is that task's, not ours.
    mine = {"a.py": lease("alice", NOW + 60), "b.py": lease("alice", NOW + 60)}
    _, status, _ = wait("a.py", "b.py").step(mine, NOW, local={"a.py": "g/other"})
    assert status == "waiting"


def test_a_lease_of_ours_that_would_end_before_the_run_is_renewed_first() -> None:
    needing = LeaseWait("alice", "g/code", 1, ("a.py",), NOW, 60.0, needed_s=31.0)
    short = {"a.py": lease("alice", NOW + 30)}
    renewing, status, asks = needing.step(short, NOW)
    assert status == "waiting" and [p for p, _ in asks] == ["a.py"] and renewing.blocked_by == {}
    _, status, _ = renewing.step({"a.py": lease("alice", NOW + 61)}, NOW + 0.5)
    assert status == "granted"


def test_without_a_slot_it_gives_up_only_while_another_holds_a_file() -> None:
    started = wait("a.py", max_wait_s=10)
    held = {"a.py": lease("bob", NOW + 600)}
    checked, give_up = started.check(held, NOW + 9)
    assert not give_up and checked.blocked_by == {"a.py": "bob"}
    checked, give_up = started.check(held, NOW + 10)
    assert give_up and "a.py held by bob" in checked.reason(NOW + 10)
    _, give_up = started.check({"a.py": lease("alice", NOW + 600)}, NOW + 100)
    assert not give_up, "granted and waiting only for a slot: never given back"
    _, give_up = started.check({}, NOW + 100)
    assert not give_up, "free: it asks once a slot is free"
    _, give_up = started.check({}, NOW + 10, local={"a.py": "g/other"})
    assert give_up


def test_two_local_tasks_never_claim_one_path_and_a_release_frees_it() -> None:
    claims = LocalClaims()
    assert claims.claim("t1", ["a.py", "b.py"]) and claims.claim("t1", ["a.py", "b.py"])
    assert not claims.claim("t2", ["b.py", "c.py"]) and "c.py" not in claims.owners, "all or nothing"
    assert sorted(claims.release("t1")) == ["a.py", "b.py"]
    assert claims.claim("t2", ["b.py", "c.py"])
    assert claims.others("t1", ["b.py", "d.py"]) == {"b.py": "t2"} and claims.others("t2", ["b.py"]) == {}
