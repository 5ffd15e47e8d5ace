"""When a task given back for a lock conflict may be retried before its backoff ends (pure).

A task whose files another task held is given back by its agent runtime (``lock_conflict``) and waits for a
retry by backoff (2 s, 4 s, ... under the adaptive policy). Its files are often free much sooner: the holder
finishes, or its lease expires. While such a task waits, the assigner follows the lock manager's leases (the
``file-locks`` object of the replicated CRDT state, which only the lock manager writes, in the log order of the
lock commands; ``lease_watch``) and retries it as soon as none of its files has a live lease: released,
expired, or never granted (the lock manager had not answered). The backoff's scheduled retry stays the
fallback, for instance until the leases are followed and caught up.

Only the lock manager's decisions count, not the commands: a release that the manager ignored (not the holder's)
or the task's own release when it gave up changes no lease, so it wakes nothing. A file that is free when the
task is woken may be taken again before its agent asks for it; the task then waits and may be given back again,
as with any retry.
"""

from __future__ import annotations

from services.assigner.task_book import TrackedTask
from services.locks.lock_table import live_lease
from shared.crdt.lww_map import LWWMap


def waits_for_files(task: TrackedTask) -> bool:
    """Whether ``task`` waits for a retry after a lock conflict (so the leases on its files matter)."""
    return task.state == "retry_wait" and bool(task.waiting_for_files)


def may_retry_now(task: TrackedTask, grants: LWWMap | None, now_ms: int) -> bool:
    """Whether ``task`` waits for a retry after a lock conflict and none of its files has a live lease now."""
    if not waits_for_files(task) or grants is None:
        return False
    return all(live_lease(grants, path, now_ms) is None for path in task.waiting_for_files)
