"""The ledger of assignments an agent accepted, so redelivery or a restart never runs one twice.

An assignment is identified by (agent, task, attempt). It is ``queued`` when accepted, ``running`` once its
backend may have begun, and ``done`` when its outcome is published. Entries are kept in the runtime's
compacted state topic; after a restart, queued ones are resumed and running ones were interrupted.

Entries are dropped ``retention_s`` after their assignment was made, and assignments older than that are
refused as stale: the two horizons are the same, so a pruned assignment can never be accepted again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

Status = Literal["queued", "running", "done"]
Admission = Literal["accepted", "duplicate", "stale"]
KEY_PREFIX = "executed/"


@dataclass(frozen=True, order=True)
class AssignmentKey:
    """One attempt of one task by one agent."""

    agent_id: str
    task_id: str
    attempt: int

    def state_key(self) -> str:
        """Its key in the state topic (agents first, so one agent's entries share a prefix)."""
        return f"{KEY_PREFIX}{self.agent_id}/{self.task_id}/{self.attempt}"


@dataclass(frozen=True)
class LedgerEntry:
    """What the runtime knows of one assignment.

    ``command`` is the encoded ExecuteTask, kept until the outcome is published so a restarted runtime can
    resume the task or report it interrupted with the same derived event ids.
    """

    key: AssignmentKey
    status: Status
    assigned_at: float
    command: str | None = None
    outcome: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "agent_id": self.key.agent_id,
            "task_id": self.key.task_id,
            "attempt": self.key.attempt,
            "status": self.status,
            "assigned_at": self.assigned_at,
            "command": self.command,
            "outcome": self.outcome,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LedgerEntry:
        """Inverse of ``to_dict``."""
        return cls(
            key=AssignmentKey(str(data["agent_id"]), str(data["task_id"]), int(data["attempt"])),
            status=data["status"],
            assigned_at=float(data["assigned_at"]),
            command=data.get("command"),
            outcome=data.get("outcome"),
        )


class ExecutionLedger:
    """Assignments by key; every change returns the new entry so the caller can persist it."""

    def __init__(self, retention_s: float, entries: Iterable[LedgerEntry] = ()) -> None:
        if retention_s <= 0:
            raise ValueError("retention_s must be positive")
        self.retention_s = retention_s
        self._entries: dict[AssignmentKey, LedgerEntry] = {entry.key: entry for entry in entries}

    def admit(self, key: AssignmentKey, command: str, assigned_at: float, now: float) -> Admission:
        """Accept an assignment seen for the first time (as ``queued``); refuse repeats and stale ones."""
        if key in self._entries:
            return "duplicate"
        if assigned_at < now - self.retention_s:
            return "stale"
        self._entries[key] = LedgerEntry(key, "queued", assigned_at, command)
        return "accepted"

    def start(self, key: AssignmentKey) -> LedgerEntry:
        """A queued assignment is about to run."""
        return self._move(key, "queued", replace(self._entries[key], status="running"))

    def finish(self, key: AssignmentKey, outcome: str) -> LedgerEntry:
        """An assignment's outcome is published; its command is no longer needed."""
        entry = self._entries[key]
        if entry.status == "done":
            raise ValueError(f"{key} is already done")
        return self._move(key, entry.status, replace(entry, status="done", command=None, outcome=outcome))

    def get(self, key: AssignmentKey) -> LedgerEntry | None:
        return self._entries.get(key)

    def with_status(self, status: Status) -> list[LedgerEntry]:
        """Entries in ``status``, oldest assignment first."""
        found = [entry for entry in self._entries.values() if entry.status == status]
        return sorted(found, key=lambda entry: (entry.assigned_at, entry.key))

    def prune(self, now: float) -> list[AssignmentKey]:
        """Drop done entries past the retention horizon; returns their keys (to delete from the state topic)."""
        horizon = now - self.retention_s
        expired = [k for k, e in self._entries.items() if e.status == "done" and e.assigned_at < horizon]
        for key in expired:
            del self._entries[key]
        return expired

    def __iter__(self) -> Iterator[LedgerEntry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def _move(self, key: AssignmentKey, expected: Status, entry: LedgerEntry) -> LedgerEntry:
        current = self._entries[key].status
        if current != expected:
            raise ValueError(f"{key} is {current}, not {expected}")
        self._entries[key] = entry
        return entry
