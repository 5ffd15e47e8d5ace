"""Lock checks before work starts: a task that declares the files it touches waits for their leases (pure).

Where this belongs: the agent runtime, just before it runs a task, not the assigner. The lease protects an
edit, and the edit happens here: the runtime knows when the agent really begins (a task may sit in an agent's
queue long after assignment, and holding leases for queued work would block others for nothing), and it knows
when the work ends whichever way it ends (success, failure, timeout, crash, shutdown), which is when the
leases must go back. The assigner would have to guess both.

Waiting holds no execution slot: a queued task asks for its leases when a slot is free for it and takes the
slot only once every lease is granted; until then the tasks behind it (files free, or none) take the slot. The
agent's heartbeat reports how many wait (``lease_waits``), and the assigner counts them out of its load. The
wait is bounded: past ``max_wait_s`` (the fleet's ``runtime.lease_wait_s``, at most the task's timeout) with a
file still held by another task, the task is given back as ``TaskFailed(error_class="lock_conflict")`` naming
the files and their holders; the assigner retries it later, possibly on another agent, without charging the
agent's circuit breaker. Waiting only for a slot (files granted) never gives up.

Declaring files: task input ``files: [path, ...]`` (non-empty strings; order and repeats do not matter; see
``shared/events/task_files.py``).

Mutual exclusion comes from the lock manager, which grants leases in the log order of the path's partition;
this module only decides what to ask for next from the leases it has seen replicated. The holder of a lease is
the agent; two tasks of one runtime never claim the same path at once (``LocalClaims``), so a lease held by
this agent belongs to the one task that claimed the path here. Rules per path, each tick:

- held: the replicated lease names this agent and lasts at least ``needed_s`` more (the task's run);
- ours but ending sooner (it waited for a slot meanwhile): ask again, which renews it;
- claimed by another task of this runtime, or another holder with an unexpired lease: wait (ask again when it
  is released or expires);
- free (no lease, expired, or our request not decided yet): ask, at most once per ``resend_s``.

Asking again while a request is pending is harmless: a second grant to the same agent renews its lease.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

RESEND_S = 1.0
#: Default bound on a wait for leases (fleet file ``runtime.lease_wait_s``).
LEASE_WAIT_S = 60.0
#: Nobody holds the files yet they were not granted (the lock manager has not answered): give up this much later.
ANSWER_GRACE_S = 5.0
#: A lease outlives the task's timeout by this much, so the watchdog ends the work before the lease ends.
LEASE_GRACE_S = 30.0

WaitStatus = Literal["granted", "waiting", "gave_up"]


def request_id(task_id: str, attempt: int, path: str, round_: int) -> str:
    """A request id per (task attempt, path, ask): readable, bounded, distinct for every ask."""
    digest = hashlib.sha1(path.encode()).hexdigest()[:10]
    return f"{task_id[:150]}#{attempt}:{digest}:{round_}"


def lease_seconds(task_timeout_s: float) -> float:
    return task_timeout_s + LEASE_GRACE_S


def _live(lease: Any, now_ms: int) -> Mapping[str, Any] | None:
    if isinstance(lease, Mapping) and lease.get("holder") and int(lease.get("expires_at_ms", 0)) > now_ms:
        return lease
    return None


def _holder(lease: Mapping[str, Any]) -> str:
    task = lease.get("task_id")
    return f"{lease['holder']} (task {task})" if task else str(lease["holder"])


@dataclass(frozen=True)
class LeaseWait:
    """One task's wait for the leases on the files it declared.

    ``needed_s`` is how long a lease must still last when the task starts (its timeout and the watchdog's grace);
    ``blocked_by`` names, per path, the holder it last saw in the way.
    """

    agent_id: str
    task_id: str
    attempt: int
    paths: tuple[str, ...]
    since_s: float
    max_wait_s: float
    needed_s: float = 0.0
    asked_at_s: Mapping[str, float] = field(default_factory=dict)
    rounds: Mapping[str, int] = field(default_factory=dict)
    blocked_by: Mapping[str, str] = field(default_factory=dict)

    def step(
        self, leases: Mapping[str, Any], now_s: float, local: Mapping[str, str] | None = None
    ) -> tuple[LeaseWait, WaitStatus, list[tuple[str, str]]]:
        """With a slot free for it: look at the replicated leases (path -> lease) at ``now_s`` and at ``local``
        (paths another task of this runtime claimed -> its task id). Returns the wait after it, its status, and
        the requests to send now as (path, request id)."""
        now_ms, need_ms = int(now_s * 1000), int(self.needed_s * 1000)
        held, asks = 0, []
        asked, rounds, blocked = dict(self.asked_at_s), dict(self.rounds), {}
        for path in self.paths:
            if local and path in local:
                blocked[path] = f"{self.agent_id} (task {local[path]})"
                continue
            lease = _live(leases.get(path), now_ms)
            if lease is not None and lease["holder"] == self.agent_id:
                if int(lease["expires_at_ms"]) >= now_ms + need_ms:
                    held += 1
                    continue
            elif lease is not None:
                blocked[path] = _holder(lease)
                continue
            if now_s - asked.get(path, float("-inf")) >= RESEND_S:
                rounds[path] = rounds.get(path, 0) + 1
                asked[path] = now_s
                asks.append((path, request_id(self.task_id, self.attempt, path, rounds[path])))
        after = replace(self, asked_at_s=asked, rounds=rounds, blocked_by=blocked)
        if held == len(self.paths):
            return after, "granted", []
        if after.overdue(now_s):
            return after, "gave_up", []
        return after, "waiting", asks

    def check(
        self, leases: Mapping[str, Any], now_s: float, local: Mapping[str, str] | None = None
    ) -> tuple[LeaseWait, bool]:
        """With no slot free for it (nothing is asked): the wait with the holders now in its way, and whether to
        give up: past the limit with a file still held by another task. Waiting only for a slot never gives up."""
        now_ms = int(now_s * 1000)
        blocked = {}
        for path in self.paths:
            lease = _live(leases.get(path), now_ms)
            if local and path in local:
                blocked[path] = f"{self.agent_id} (task {local[path]})"
            elif lease is not None and lease["holder"] != self.agent_id:
                blocked[path] = _holder(lease)
        after = replace(self, blocked_by=blocked)
        return after, bool(blocked) and after.overdue(now_s)

    def overdue(self, now_s: float) -> bool:
        """Waited past the limit (with a grace when nobody is in the way: the lock manager may still answer)."""
        return now_s - self.since_s >= self.max_wait_s + (0.0 if self.blocked_by else ANSWER_GRACE_S)

    def reason(self, now_s: float | None = None) -> str:
        """Why it gives up, naming the files and who holds them."""
        waited = self.max_wait_s if now_s is None else now_s - self.since_s
        held = ", ".join(f"{path} held by {holder}" for path, holder in sorted(self.blocked_by.items()))
        if not held:
            return (
                f"no answer from the lock manager for {', '.join(self.paths)} "
                f"after {waited:.1f}s (lease wait limit {self.max_wait_s:g}s)"
            )
        return f"files locked by other tasks after waiting {waited:.1f}s (limit {self.max_wait_s:g}s): {held}"


@dataclass
class LocalClaims:
    """Paths claimed by tasks of this runtime: a path is claimed by at most one task at a time (FIFO fairness
    comes from the slots' order), so a lease held by an agent here belongs to exactly one of its tasks."""

    owners: dict[str, Any] = field(default_factory=dict)

    def claim(self, key: Any, paths: Sequence[str]) -> bool:
        """Claim every path for ``key``, or none when another task here claims one of them."""
        if any(self.owners.get(path, key) != key for path in paths):
            return False
        for path in paths:
            self.owners[path] = key
        return True

    def others(self, key: Any, paths: Sequence[str]) -> dict[str, Any]:
        """The paths among ``paths`` another task here claims, with that task's key."""
        return {path: self.owners[path] for path in paths if self.owners.get(path, key) != key}

    def release(self, key: Any) -> list[str]:
        """Drop ``key``'s claims; returns the paths it had claimed."""
        mine = [path for path, owner in self.owners.items() if owner == key]
        for path in mine:
            del self.owners[path]
        return mine
