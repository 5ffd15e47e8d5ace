"""File-edit leases decided in log order: pure, deterministic, replicated as an LWW map.

Mutual exclusion cannot come from a CRDT alone (two replicas granting concurrently would both "win"
locally), so one owner decides per path: the lock manager consuming ``architect.locks.commands``, keyed by
path, so every command for a path reaches it in the one order of that path's partition. Its decisions are
written into an LWW map (path -> lease) that it replicates for reads; since only the owner writes a path and
its hybrid clock only moves forward, every replica that merges its states sees its latest decision.

Time is the commands' own time (``at``, from the log), pushed through the manager's hybrid clock so it never
goes back: replaying the same commands gives the same leases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.crdt.hlc import HybridClock
from shared.crdt.lww_map import LWWMap

FILE_LOCKS = "file-locks"
#: Refused requests kept on a lease (the newest), so requesters can see they were turned down.
DENIED_KEPT = 20

Outcome = Literal["granted", "renewed", "denied", "released", "ignored"]


@dataclass(frozen=True)
class LockDecision:
    path: str
    agent_id: str
    request_id: str
    outcome: Outcome
    holder: str | None
    granted_at_ms: int | None = None
    expires_at_ms: int | None = None
    reason: str = ""


def live_lease(grants: LWWMap, path: str, now_ms: int) -> Mapping[str, Any] | None:
    """The lease on ``path`` if one is held and not expired at ``now_ms``."""
    lease = grants.get(path)
    if isinstance(lease, dict) and lease.get("holder") and int(lease["expires_at_ms"]) > now_ms:
        return lease
    return None


@dataclass(frozen=True)
class LockTable:
    """The leases (as the LWW map that is replicated) and the hybrid clock that stamps their writes."""

    grants: LWWMap = field(default_factory=LWWMap)
    clock: HybridClock = field(default_factory=lambda: HybridClock("lock-manager"))

    def acquire(
        self, path: str, agent_id: str, request_id: str, lease_s: float, at: float, task_id: str | None = None
    ) -> tuple[LockTable, LockDecision]:
        """Grant ``path`` to ``agent_id`` unless another agent holds an unexpired lease (then refuse)."""
        clock, stamp = self.clock.send(at)
        now_ms = stamp.physical_ms
        lease = live_lease(self.grants, path, now_ms)
        if lease is not None and lease["holder"] != agent_id:
            denied = [*lease.get("denied", []), request_id][-DENIED_KEPT:]
            grants = self.grants.set(path, {**lease, "denied": denied}, stamp)
            decision = LockDecision(
                path,
                agent_id,
                request_id,
                "denied",
                lease["holder"],
                int(lease["granted_at_ms"]),
                int(lease["expires_at_ms"]),
                f"held by {lease['holder']} until {lease['expires_at_ms']} ms",
            )
            return LockTable(grants, clock), decision
        renewing = lease is not None
        granted_at = int(lease["granted_at_ms"]) if lease is not None else now_ms
        expires = now_ms + int(lease_s * 1000)
        value = {
            "holder": agent_id,
            "request_id": request_id,
            "task_id": task_id,
            "granted_at_ms": granted_at,
            "expires_at_ms": expires,
            "denied": list(lease.get("denied", [])) if lease is not None else [],
        }
        outcome: Outcome = "renewed" if renewing else "granted"
        decision = LockDecision(path, agent_id, request_id, outcome, agent_id, granted_at, expires)
        return LockTable(self.grants.set(path, value, stamp), clock), decision

    def release(self, path: str, agent_id: str, request_id: str, at: float) -> tuple[LockTable, LockDecision]:
        """Free ``path`` if ``agent_id`` holds it; anyone else's release is ignored."""
        clock, stamp = self.clock.send(at)
        lease = live_lease(self.grants, path, stamp.physical_ms)
        if lease is None or lease["holder"] != agent_id:
            holder = None if lease is None else lease["holder"]
            reason = "not held" if lease is None else f"held by {holder}"
            return LockTable(self.grants, clock), LockDecision(
                path, agent_id, request_id, "ignored", holder, reason=reason
            )
        decision = LockDecision(path, agent_id, request_id, "released", None)
        return LockTable(self.grants.delete(path, stamp), clock), decision

    @classmethod
    def restore(cls, grants: LWWMap, replica: str = "lock-manager") -> LockTable:
        """The table whose replicated leases are ``grants``: its clock resumes after the latest write in them."""
        latest = max((r.timestamp for r in grants.registers.values()), default=None)
        if latest is None:
            return cls(grants, HybridClock(replica))
        return cls(grants, HybridClock(replica, latest.physical_ms, latest.logical))
