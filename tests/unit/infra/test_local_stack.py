"""The local stack `make run` and `make demo` start, and how the demo judges its outcome."""

from __future__ import annotations

from pathlib import Path

from shared.infra.demo_view import GoalRow, Snapshot
from shared.infra.stack import full_stack


def test_the_local_stack_runs_every_service_including_the_lock_manager() -> None:
    """Without the lock manager, a task that declares ``files`` never gets its leases and is given back."""
    modules = {spec.module for spec in full_stack(8080, "key=ops:admin")}
    services_dir = Path(__file__).resolve().parents[3] / "services"
    services = {path.name for path in services_dir.iterdir() if (path / "__main__.py").exists()}
    assert modules == {f"services.{name}" for name in services}


def goal(status: str) -> GoalRow:
    return GoalRow("g", "fix_bug", status, "m", "htn", 1, 1, 0, "", None, None)


def snapshot(*statuses: str) -> Snapshot:
    return Snapshot([goal(s) for s in statuses], [], [], 0, 0, 0)


def test_the_demo_succeeds_only_when_every_goal_completed() -> None:
    ended = snapshot("completed", "failed")
    assert ended.all_finished(2) and not ended.all_completed(2)
    assert snapshot("completed", "completed").all_completed(2)
    assert not snapshot("completed").all_completed(2), "a goal not yet in the read models"
