"""Routing: which agent gets a pending task.

Strategies rank the agents that satisfy the assignment rule (see `assign_rule`):
- least_loaded: lowest in_flight / capacity, ties by agent id;
- drift_aware: highest stability first (never below the reset threshold), then least loaded;
- priority (`route_by_priority`): tasks in order of priority (high first) then age (old first), each
  given to the least-loaded agent, with every assignment's effect applied before the next;
- auction (`route_by_auction`): the eligible bidder with the lowest score (see `Bid` and
  `AuctionWeights`), falling back to least_loaded when no bid is eligible.

Every strategy sends a retry to an agent other than the ones earlier attempts failed on, when one is able
(`TaskView.failed_on`); those agents stay a last resort.

The preferred agent is the best-ranked one ignoring breakers. If its breaker is open, the task goes
to the best-ranked backup whose breaker allows it; if every otherwise able agent's breaker is open (not
merely half-open and busy probing), the decision is to escalate (to a manager). When capable agents are
only busy, restarting (no recent heartbeat) or being reset (unstable), the decision is to wait: they
come back by themselves. A capability no registered agent has is escalated too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from services.assigner.agent_view import AgentView
from services.assigner.assign_rule import RoutingRules, TaskView, apply_assignment, can_assign

Strategy = Literal["least_loaded", "drift_aware"]
_Rank = Callable[[AgentView], tuple[float | str, ...]]


@dataclass(frozen=True)
class Assign:
    """Give the task to `agent_id`; `backup_for` names the preferred agent whose breaker was open."""

    task_id: str
    agent_id: str
    strategy: str
    reason: str
    backup_for: str | None = None


@dataclass(frozen=True)
class Wait:
    """Leave the task pending for now; an able agent should free up."""

    task_id: str
    reason: str


@dataclass(frozen=True)
class Escalate:
    """No agent can take the task without intervention: hand the decision to `to_role`."""

    task_id: str
    reason: str
    to_role: str = "manager"


RoutingDecision = Assign | Wait | Escalate


def least_loaded_rank(agent: AgentView) -> tuple[float | str, ...]:
    """Lower is better: share of capacity in use, then agent id."""
    return (agent.load, agent.agent_id)


def drift_aware_rank(agent: AgentView) -> tuple[float | str, ...]:
    """Lower is better: most stable first, then least loaded, then agent id."""
    return (-agent.stability, agent.load, agent.agent_id)


_RANKS: dict[str, _Rank] = {"least_loaded": least_loaded_rank, "drift_aware": drift_aware_rank}


def route(
    task: TaskView,
    agents: Iterable[AgentView],
    now: float,
    strategy: Strategy = "least_loaded",
    rules: RoutingRules = RoutingRules(),
) -> RoutingDecision:
    """Decide where `task` goes at `now` using `strategy`."""
    return _decide(task, tuple(agents), now, rules, strategy, _RANKS[strategy])


def route_by_priority(
    tasks: Iterable[TaskView],
    agents: Iterable[AgentView],
    now: float,
    rules: RoutingRules = RoutingRules(),
    strategy: Strategy = "least_loaded",
) -> tuple[RoutingDecision, ...]:
    """Route many pending tasks, most important first; decisions come back in that order.

    Each assignment's effect (one more task in flight, a probe slot taken) is applied before the next
    task is routed, so a batch never overfills an agent.
    """
    fleet = {agent.agent_id: agent for agent in agents}
    decisions: list[RoutingDecision] = []
    for task in sorted(tasks, key=lambda t: (-t.priority, t.created_at, t.task_id)):
        decision = route(task, fleet.values(), now, strategy, rules)
        if isinstance(decision, Assign):
            _, fleet[decision.agent_id] = apply_assignment(task, fleet[decision.agent_id], now)
            decision = replace(decision, strategy="priority")
        decisions.append(decision)
    return tuple(decisions)


@dataclass(frozen=True)
class Bid:
    """An agent's offer for a task in an auction: what it would cost and how soon it would finish."""

    agent_id: str
    cost: float
    eta_s: float

    def __post_init__(self) -> None:
        if self.cost < 0 or self.eta_s < 0:
            raise ValueError(f"bid of '{self.agent_id}' has a negative cost or eta: {self.cost}, {self.eta_s}")


@dataclass(frozen=True)
class AuctionWeights:
    """score = cost * cost / max cost + eta * eta_s / max eta_s, over the eligible bids; lowest wins.

    Normalising by the largest eligible bid makes the two terms comparable whatever their units; ties
    go to the lower cost, then the lower eta, then the agent id.
    """

    cost: float = 0.5
    eta: float = 0.5


def route_by_auction(
    task: TaskView,
    agents: Iterable[AgentView],
    bids: Iterable[Bid],
    now: float,
    rules: RoutingRules = RoutingRules(),
    weights: AuctionWeights = AuctionWeights(),
) -> RoutingDecision:
    """Pick the best eligible bid collected in the auction window; no eligible bid -> least_loaded."""
    fleet = {agent.agent_id: agent for agent in agents}
    eligible = [bid for bid in bids if bid.agent_id in fleet and can_assign(task, fleet[bid.agent_id], now, rules)]
    if not eligible:
        fallback = route(task, fleet.values(), now, "least_loaded", rules)
        if isinstance(fallback, Assign):
            return replace(fallback, reason=f"no eligible bid; {fallback.reason}")
        return fallback
    max_cost = max(bid.cost for bid in eligible) or 1.0
    max_eta = max(bid.eta_s for bid in eligible) or 1.0

    def score(bid: Bid) -> tuple[float | str | bool, ...]:
        value = weights.cost * bid.cost / max_cost + weights.eta * bid.eta_s / max_eta
        return (bid.agent_id in task.failed_on, value, bid.cost, bid.eta_s, bid.agent_id)

    best = min(eligible, key=score)
    reason = f"won the auction among {len(eligible)} eligible bid(s): cost {best.cost:g}, eta {best.eta_s:g}s"
    return Assign(task.task_id, best.agent_id, "auction", reason)


def _decide(
    task: TaskView, agents: Sequence[AgentView], now: float, rules: RoutingRules, strategy: str, rank: _Rank
) -> RoutingDecision:
    if task.state != "pending":
        return Wait(task.task_id, f"task is {task.state}, not pending")
    capable = [agent for agent in agents if task.capability in agent.capabilities]
    if not capable:
        return Escalate(task.task_id, f"no registered agent has capability '{task.capability}'", rules.escalate_to)
    # Everything the rule asks except the breaker, so the breaker can redirect to a backup.
    able = [
        agent
        for agent in capable
        if agent.is_alive(now, rules.heartbeat_timeout_s) and agent.stability >= rules.min_stability
    ]
    free = [agent for agent in able if agent.free_capacity > 0]
    if free:
        rank = _after_failed(rank, task.failed_on)
        preferred = min(free, key=rank)
        if preferred.breaker.allows(now):
            return Assign(task.task_id, preferred.agent_id, strategy, f"{strategy} choice")
        backups = [agent for agent in free if agent.breaker.allows(now)]
        if backups:
            backup = min(backups, key=rank)
            reason = f"breaker of '{preferred.agent_id}' is {preferred.breaker.state_at(now)}; backup"
            return Assign(task.task_id, backup.agent_id, strategy, reason, backup_for=preferred.agent_id)
    if able and all(agent.breaker.state_at(now) == "open" for agent in able):
        blocked = ", ".join(sorted(agent.agent_id for agent in able))
        return Escalate(
            task.task_id,
            f"every live agent with capability '{task.capability}' has an open breaker ({blocked})",
            rules.escalate_to,
        )
    return Wait(task.task_id, _why_waiting(task, capable, able))


def _after_failed(rank: _Rank, failed_on: frozenset[str]) -> _Rank:
    """``rank`` with the agents that already failed this task placed after every other agent."""
    if not failed_on:
        return rank
    return lambda agent: (agent.agent_id in failed_on, *rank(agent))


def _why_waiting(task: TaskView, capable: Sequence[AgentView], able: Sequence[AgentView]) -> str:
    if able:
        return f"every able agent with capability '{task.capability}' is busy or probing"
    return f"no agent with capability '{task.capability}' is both alive and stable right now ({len(capable)} known)"
