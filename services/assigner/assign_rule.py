"""The assignment rule, PDDL-style: when may task t go to agent a, and what changes when it does.

assign(t, a): pre  t pending, a has t's skill, a has free capacity, a alive (recent heartbeat),
                   a's breaker lets work through, a's stability at or above the reset threshold
              eff  t assigned to a, a's free capacity drops by one (and a half-open breaker's probe
                   slot is taken), t no longer pending
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from services.assigner.agent_view import DEFAULT_HEARTBEAT_TIMEOUT_S, AgentView

DEFAULT_MIN_STABILITY = 0.5
"""The drift monitor resets agents below this stability; routing to them would waste the work."""


@dataclass(frozen=True)
class TaskView:
    """What routing needs to know about a task."""

    task_id: str
    capability: str
    state: str = "pending"
    priority: int = 0
    """Higher goes first."""
    created_at: float = 0.0
    """Older goes first among equal priorities."""
    agent_id: str | None = None
    failed_on: frozenset[str] = frozenset()
    """Agents an earlier attempt of this task failed on: a retry goes elsewhere when another agent is able."""


@dataclass(frozen=True)
class RoutingRules:
    """Knobs of the assignment rule."""

    heartbeat_timeout_s: float = DEFAULT_HEARTBEAT_TIMEOUT_S
    min_stability: float = DEFAULT_MIN_STABILITY
    escalate_to: str = "manager"


def ineligibility(
    task: TaskView, agent: AgentView, now: float, rules: RoutingRules = RoutingRules()
) -> tuple[str, ...]:
    """Every precondition of assign(task, agent) that fails at `now`, as sentences (empty: eligible)."""
    reasons: list[str] = []
    if task.state != "pending":
        reasons.append(f"task '{task.task_id}' is {task.state}, not pending")
    if task.capability not in agent.capabilities:
        reasons.append(f"agent '{agent.agent_id}' lacks capability '{task.capability}'")
    if agent.free_capacity < 1:
        reasons.append(f"agent '{agent.agent_id}' is at capacity ({agent.busy}/{agent.capacity})")
    if not agent.is_alive(now, rules.heartbeat_timeout_s):
        age = now - agent.last_heartbeat
        reasons.append(
            f"agent '{agent.agent_id}' last sent a heartbeat {age:.0f}s ago (timeout {rules.heartbeat_timeout_s:g}s)"
        )
    if not agent.breaker.allows(now):
        reasons.append(f"agent '{agent.agent_id}' has its circuit breaker {agent.breaker.state_at(now)}")
    if agent.stability < rules.min_stability:
        reasons.append(f"agent '{agent.agent_id}' has stability {agent.stability:.2f}, below {rules.min_stability:g}")
    return tuple(reasons)


def can_assign(task: TaskView, agent: AgentView, now: float, rules: RoutingRules = RoutingRules()) -> bool:
    """The assignment rule's precondition holds for this task and agent at `now`."""
    return not ineligibility(task, agent, now, rules)


def apply_assignment(task: TaskView, agent: AgentView, now: float) -> tuple[TaskView, AgentView]:
    """The assignment rule's effect: the task assigned to the agent, the agent one task busier."""
    return (
        replace(task, state="assigned", agent_id=agent.agent_id),
        replace(agent, in_flight=agent.in_flight + 1, breaker=agent.breaker.record_dispatch(now)),
    )
