"""Coordination drift: the fleet drifting as a whole, seen in routing, overlap, handoffs and queues.

Four pure detectors, each taking observations the service keeps (from task and queue events) and
returning alerts:

- routing skew: within a sliding window of `window_seconds`, an agent's share of routed tasks exceeds
  `skew_ratio` times its capacity-weighted fair share (capacity / total capacity of the eligible agents),
  or exceeds `max_share` of all tasks while other agents were eligible. Nothing is judged on fewer than
  `min_tasks` tasks in the window.
- redundant work: two or more agents concurrently on the same task id, or editing the same file path for
  different tasks.
- handoff failures: a task that failed on an agent it had been handed to from another agent.
- bottlenecks: a capability whose queue depth stayed above `queue_depth_limit` for at least
  `bottleneck_seconds` up to now.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class CoordinationPolicy:
    """Knobs of the coordination detectors."""

    window_seconds: float = 900.0
    skew_ratio: float = 2.0
    max_share: float = 0.8
    min_tasks: int = 20
    queue_depth_limit: int = 20
    bottleneck_seconds: float = 300.0


@dataclass(frozen=True)
class RoutingDecision:
    """A task was routed to an agent at time `at`."""

    task_id: str
    agent_id: str
    at: float


SkewReason = Literal["above_fair_share", "above_max_share"]


@dataclass(frozen=True)
class RoutingSkewAlert:
    """An agent received more than its fair share of tasks in the window."""

    agent_id: str
    tasks: int
    window_tasks: int
    share: float
    fair_share: float
    reason: SkewReason


def detect_routing_skew(
    decisions: Iterable[RoutingDecision],
    capacities: Mapping[str, int],
    now: float,
    policy: CoordinationPolicy | None = None,
) -> list[RoutingSkewAlert]:
    """Agents over their fair share of the tasks routed in `(now - window, now]`, ordered by agent id.

    `capacities` lists the agents eligible over the window; an agent missing from it has a fair share of
    0 and can only trip the max-share rule.
    """
    policy = policy or CoordinationPolicy()
    recent = [d for d in decisions if now - policy.window_seconds < d.at <= now]
    if len(recent) < max(policy.min_tasks, 1):
        return []
    counts: dict[str, int] = defaultdict(int)
    for decision in recent:
        counts[decision.agent_id] += 1
    total_capacity = sum(c for c in capacities.values() if c > 0)
    eligible = sum(1 for c in capacities.values() if c > 0)
    alerts = []
    for agent_id in sorted(counts):
        share = counts[agent_id] / len(recent)
        capacity = max(capacities.get(agent_id, 0), 0)
        fair_share = capacity / total_capacity if total_capacity else 0.0
        reason = _skew_reason(share, fair_share, eligible, policy)
        if reason is not None:
            alerts.append(RoutingSkewAlert(agent_id, counts[agent_id], len(recent), share, fair_share, reason))
    return alerts


def _skew_reason(share: float, fair_share: float, eligible: int, policy: CoordinationPolicy) -> SkewReason | None:
    if fair_share and share > policy.skew_ratio * fair_share:
        return "above_fair_share"
    # With two eligible agents twice the fair share is everything, so the absolute cap does the work.
    if share > policy.max_share and eligible > 1:
        return "above_max_share"
    return None


@dataclass(frozen=True)
class ActiveWork:
    """An agent currently working on a task, and the files it is editing."""

    agent_id: str
    task_id: str
    files: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RedundantWorkAlert:
    """Several agents are doing the same work: the same task (`kind="task"`) or the same file."""

    kind: Literal["task", "file"]
    key: str
    agent_ids: tuple[str, ...]
    task_ids: tuple[str, ...]


def detect_redundant_work(active: Iterable[ActiveWork]) -> list[RedundantWorkAlert]:
    """Tasks held by two or more agents, then files edited by two or more agents for different tasks."""
    by_task: dict[str, set[str]] = defaultdict(set)
    by_file: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for work in active:
        by_task[work.task_id].add(work.agent_id)
        for path in work.files:
            by_file[path].add((work.agent_id, work.task_id))
    alerts = [
        RedundantWorkAlert("task", task_id, tuple(sorted(agents)), (task_id,))
        for task_id, agents in sorted(by_task.items())
        if len(agents) > 1
    ]
    for path, holders in sorted(by_file.items()):
        agents = {agent for agent, _ in holders}
        tasks = {task for _, task in holders}
        # Two agents on one task are already reported above; the file adds nothing then.
        if len(agents) > 1 and len(tasks) > 1:
            alerts.append(RedundantWorkAlert("file", path, tuple(sorted(agents)), tuple(sorted(tasks))))
    return alerts


@dataclass(frozen=True)
class TaskLifecycleEvent:
    """A task was assigned to, succeeded on, or failed on an agent at time `at`."""

    task_id: str
    agent_id: str
    kind: Literal["assigned", "succeeded", "failed"]
    at: float


@dataclass(frozen=True)
class HandoffFailureAlert:
    """A task failed on `to_agent` after being handed over from `from_agent`."""

    task_id: str
    from_agent: str
    to_agent: str
    at: float


def detect_handoff_failures(events: Sequence[TaskLifecycleEvent]) -> list[HandoffFailureAlert]:
    """Failures that happened after a reassignment, in time order (ties in the order given)."""
    holder: dict[str, str] = {}
    handed_from: dict[str, str] = {}
    alerts = []
    for event in sorted(events, key=lambda e: e.at):
        task = event.task_id
        if event.kind == "assigned":
            previous = holder.get(task)
            if previous is not None and previous != event.agent_id:
                handed_from[task] = previous
            holder[task] = event.agent_id
        elif event.kind == "failed" and task in handed_from and holder.get(task) == event.agent_id:
            alerts.append(HandoffFailureAlert(task, handed_from[task], event.agent_id, event.at))
    return alerts


@dataclass(frozen=True)
class QueueDepthSample:
    """The number of tasks waiting for a capability at time `at`."""

    capability: str
    depth: int
    at: float


@dataclass(frozen=True)
class BottleneckAlert:
    """A capability's queue has stayed over the limit since `since`."""

    capability: str
    depth: int
    since: float
    duration: float


def detect_bottlenecks(
    samples: Iterable[QueueDepthSample],
    now: float,
    policy: CoordinationPolicy | None = None,
) -> list[BottleneckAlert]:
    """Capabilities whose queue depth has been above the limit continuously for long enough."""
    policy = policy or CoordinationPolicy()
    by_capability: dict[str, list[QueueDepthSample]] = defaultdict(list)
    for sample in samples:
        if sample.at <= now:
            by_capability[sample.capability].append(sample)
    alerts = []
    for capability, series in sorted(by_capability.items()):
        series.sort(key=lambda s: s.at)
        since: float | None = None
        for sample in series:
            if sample.depth <= policy.queue_depth_limit:
                since = None
            elif since is None:
                since = sample.at
        if since is not None and now - since >= policy.bottleneck_seconds:
            alerts.append(BottleneckAlert(capability, series[-1].depth, since, now - since))
    return alerts
