"""The assigner's view of each task it routes: where it stands, which attempt, who holds it, the bids.

Pure and serialisable; every transition checks the attempt it is about, so a redelivered or late event
about an older attempt changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from services.assigner.assign_rule import TaskView
from services.assigner.routing import Bid

TaskState = Literal["pending", "announced", "assigned", "running", "retry_wait", "done", "abandoned"]
Strategy = Literal["least_loaded", "priority", "auction", "drift_aware"]
OPEN_STATES = frozenset({"pending", "announced", "assigned", "running", "retry_wait"})


@dataclass(frozen=True)
class TrackedTask:
    task_id: str
    goal_id: str
    operator: str
    capability: str
    created_at: float
    inputs: Mapping[str, Any] = field(default_factory=dict)
    priority: int = 0
    strategy: Strategy = "least_loaded"
    timeout_s: float | None = None
    state: TaskState = "pending"
    attempt: int = 1
    agent_id: str | None = None
    bids: tuple[Bid, ...] = ()
    escalated: bool = False
    failed_on: tuple[str, ...] = ()
    #: (attempt, agent) for every assignment made, so a report about any attempt is checked against its holder.
    holders: tuple[tuple[int, str], ...] = ()
    #: W3C context of the event that made the task pending, so a later dispatch (capacity freed, a breaker
    #: half-open) continues the goal's trace.
    trace: Mapping[str, str] = field(default_factory=dict)
    #: The creator's command topic that also receives the task's outcome (``shared/bus/replies.py``).
    reply_to: str | None = None
    #: Waiting to be retried after a lock conflict: the files it declared. Once none has a live lease the wait
    #: ends early (``lock_wake``); the backoff's scheduled retry stays the fallback.
    waiting_for_files: tuple[str, ...] = ()
    #: The event that ended the last attempt (a TaskFailed or TaskTimedOut), which the retry's TaskRetryDue cites.
    retry_cause: str | None = None

    def view(self) -> TaskView:
        state = "pending" if self.state in ("pending", "announced") else self.state
        return TaskView(
            self.task_id,
            self.capability,
            state,
            self.priority,
            self.created_at,
            self.agent_id,
            frozenset(self.failed_on),
        )

    def assigned(self, agent_id: str) -> TrackedTask:
        holders = (*(h for h in self.holders if h[0] != self.attempt), (self.attempt, agent_id))
        return replace(self, state="assigned", agent_id=agent_id, bids=(), holders=holders)

    def holder_of(self, attempt: int) -> str | None:
        """The agent ``attempt`` was assigned to, or None if it never was."""
        return next((agent for number, agent in self.holders if number == attempt), None)

    def announced(self) -> TrackedTask:
        return replace(self, state="announced", bids=())

    def with_bid(self, bid: Bid) -> TrackedTask:
        if self.state != "announced" or any(b.agent_id == bid.agent_id for b in self.bids):
            return self
        return replace(self, bids=(*self.bids, bid))

    def started(self, attempt: int) -> TrackedTask:
        return replace(self, state="running") if self.is_current(attempt, "assigned") else self

    def finished(self) -> TrackedTask:
        return replace(self, state="done")

    def waiting_for_retry(self, files: tuple[str, ...] = (), cause: str | None = None) -> TrackedTask:
        """Its attempt ended (``cause``: the event that said so) and the next waits for its backoff, or until
        ``files`` (those of a lock conflict) are free."""
        failed_on = self.failed_on if self.agent_id in (None, *self.failed_on) else (*self.failed_on, self.agent_id)
        return replace(
            self,
            state="retry_wait",
            attempt=self.attempt + 1,
            agent_id=None,
            failed_on=failed_on,
            waiting_for_files=files,
            retry_cause=cause,
        )

    def retry_due(self, attempt: int) -> TrackedTask:
        if self.state == "retry_wait" and attempt == self.attempt:
            return replace(self, state="pending", waiting_for_files=())
        return self

    def abandoned(self) -> TrackedTask:
        return replace(self, state="abandoned")

    def is_current(self, attempt: int, *states: str) -> bool:
        """The event is about this task's current attempt while it is in one of ``states``."""
        return attempt == self.attempt and (not states or self.state in states)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "goal_id": self.goal_id,
            "operator": self.operator,
            "capability": self.capability,
            "created_at": self.created_at,
            "inputs": dict(self.inputs),
            "priority": self.priority,
            "strategy": self.strategy,
            "timeout_s": self.timeout_s,
            "state": self.state,
            "attempt": self.attempt,
            "agent_id": self.agent_id,
            "bids": [[b.agent_id, b.cost, b.eta_s] for b in self.bids],
            "escalated": self.escalated,
            "failed_on": list(self.failed_on),
            "holders": [[attempt, agent] for attempt, agent in self.holders],
            "trace": dict(self.trace),
            "reply_to": self.reply_to,
            "waiting_for_files": list(self.waiting_for_files),
            "retry_cause": self.retry_cause,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrackedTask:
        values = dict(data)
        values["bids"] = tuple(Bid(a, c, e) for a, c, e in values.get("bids", ()))
        values["failed_on"] = tuple(values.get("failed_on", ()))
        values["waiting_for_files"] = tuple(values.get("waiting_for_files", ()))
        # State written before holders were kept: the current holder is the one known.
        current = [[values["attempt"], values["agent_id"]]] if values.get("agent_id") else []
        values["holders"] = tuple((int(a), str(agent)) for a, agent in values.get("holders", current))
        return cls(**values)


def open_in_routing_order(tasks: Iterable[TrackedTask]) -> list[TrackedTask]:
    """Pending tasks, most important first, then oldest (the priority strategy's order)."""
    pending = [t for t in tasks if t.state == "pending"]
    return sorted(pending, key=lambda t: (-t.priority, t.created_at, t.task_id))
