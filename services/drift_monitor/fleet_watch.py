"""Coordination drift as the drift monitor watches it: task events in, ``CoordinationDriftDetected`` out.

Keeps, in memory, what the pure detectors of ``coordination`` need: routing decisions of the last window,
the agents' capacities, who is working on what, and each task's assignment history. It is process-local (one
drift monitor worker sees every task partition); after a restart the window refills from new events.

Each finding is reported once: routing skew at most once per agent per window, redundant work once per task
and set of agents, a handoff failure once per task attempt.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from services.drift_monitor.coordination import (
    ActiveWork,
    CoordinationPolicy,
    RoutingDecision,
    TaskLifecycleEvent,
    detect_handoff_failures,
    detect_redundant_work,
    detect_routing_skew,
)
from shared.events.catalogue.agents import AgentDeregistered, AgentRegistered
from shared.events.catalogue.drift import CoordinationDriftDetected
from shared.events.catalogue.tasks import TaskAssigned, TaskFailed, TaskStarted, TaskSucceeded

#: Finished tasks whose history is kept for handoff detection.
HISTORY_TASKS = 10_000


@dataclass
class FleetWatch:
    policy: CoordinationPolicy = field(default_factory=CoordinationPolicy)
    capacities: dict[str, int] = field(default_factory=dict)
    decisions: deque[RoutingDecision] = field(default_factory=deque)
    active: dict[tuple[str, str], ActiveWork] = field(default_factory=dict)
    lifecycles: dict[str, list[TaskLifecycleEvent]] = field(default_factory=dict)
    _skew_reported: dict[str, float] = field(default_factory=dict)
    _reported: dict[str, None] = field(default_factory=dict)

    def observe_agent(self, payload: object) -> None:
        """Registrations give capacities (the fair shares); deregistered agents drop out."""
        if isinstance(payload, AgentRegistered):
            self.capacities[payload.agent_id] = payload.capacity
        elif isinstance(payload, AgentDeregistered):
            self.capacities.pop(payload.agent_id, None)

    def observe_task(self, payload: object, at: float) -> list[CoordinationDriftDetected]:
        """Take one task event (at time ``at``) into account; return the new coordination findings."""
        if isinstance(payload, TaskAssigned):
            self.decisions.append(RoutingDecision(payload.task_id, payload.agent_id, at))
            self._lifecycle(payload.task_id, payload.agent_id, "assigned", at)
            return self._routing_skew(at)
        if isinstance(payload, TaskStarted):
            self.active[(payload.agent_id, payload.task_id)] = ActiveWork(payload.agent_id, payload.task_id)
            return self._redundant_work()
        if isinstance(payload, TaskSucceeded):
            self.active.pop((payload.agent_id, payload.task_id), None)
            self.lifecycles.pop(payload.task_id, None)
            return []
        if isinstance(payload, TaskFailed):
            self.active.pop((payload.agent_id, payload.task_id), None)
            self._lifecycle(payload.task_id, payload.agent_id, "failed", at)
            return self._handoff_failures(payload.task_id, payload.attempt)
        return []

    def _lifecycle(self, task_id: str, agent_id: str, kind: Literal["assigned", "failed"], at: float) -> None:
        if task_id not in self.lifecycles and len(self.lifecycles) >= HISTORY_TASKS:
            self.lifecycles.pop(next(iter(self.lifecycles)))
        self.lifecycles.setdefault(task_id, []).append(TaskLifecycleEvent(task_id, agent_id, kind, at))

    def _first_report(self, marker: str) -> bool:
        if marker in self._reported:
            return False
        if len(self._reported) >= HISTORY_TASKS:
            self._reported.pop(next(iter(self._reported)))
        self._reported[marker] = None
        return True

    def _routing_skew(self, now: float) -> list[CoordinationDriftDetected]:
        while self.decisions and self.decisions[0].at <= now - self.policy.window_seconds:
            self.decisions.popleft()
        findings = []
        for alert in detect_routing_skew(self.decisions, self.capacities, now, self.policy):
            last = self._skew_reported.get(alert.agent_id)
            if last is not None and now - last < self.policy.window_seconds:
                continue
            self._skew_reported[alert.agent_id] = now
            details = {
                "tasks": alert.tasks,
                "window_tasks": alert.window_tasks,
                "share": round(alert.share, 4),
                "fair_share": round(alert.fair_share, 4),
                "reason": alert.reason,
            }
            findings.append(CoordinationDriftDetected(kind="routing_skew", subject=alert.agent_id, details=details))
        return findings

    def _redundant_work(self) -> list[CoordinationDriftDetected]:
        findings = []
        for alert in detect_redundant_work(self.active.values()):
            marker = f"redundant:{alert.kind}:{alert.key}:{','.join(alert.agent_ids)}"
            if not self._first_report(marker):
                continue
            details = {"on": alert.kind, "agents": list(alert.agent_ids), "tasks": list(alert.task_ids)}
            findings.append(CoordinationDriftDetected(kind="redundant_work", subject=alert.key, details=details))
        return findings

    def _handoff_failures(self, task_id: str, attempt: int) -> list[CoordinationDriftDetected]:
        findings = []
        for alert in detect_handoff_failures(self.lifecycles.get(task_id, [])):
            marker = f"handoff:{task_id}:{attempt}"
            if alert.at != self.lifecycles[task_id][-1].at or not self._first_report(marker):
                continue
            details = {"from_agent": alert.from_agent, "to_agent": alert.to_agent, "attempt": attempt}
            findings.append(CoordinationDriftDetected(kind="handoff_failure", subject=task_id, details=details))
        return findings
