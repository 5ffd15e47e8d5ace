"""Builders shared by the assigner tests."""

from services.assigner.agent_view import AgentView
from services.assigner.assign_rule import TaskView
from services.assigner.breaker import BreakerConfig, CircuitBreaker

NOW = 1000.0


def agent(agent_id: str, *capabilities: str, **fields) -> AgentView:
    fields.setdefault("capacity", 2)
    fields.setdefault("last_heartbeat", NOW)
    return AgentView(agent_id, capabilities=frozenset(capabilities or {"code"}), **fields)


def task(task_id: str = "t1", capability: str = "code", **fields) -> TaskView:
    return TaskView(task_id, capability, **fields)


def open_breaker(now: float = NOW) -> CircuitBreaker:
    breaker = CircuitBreaker()
    for _ in range(BreakerConfig().failure_threshold):
        breaker = breaker.record_failure(now)
    return breaker


def probing_breaker(now: float = NOW) -> CircuitBreaker:
    """Half-open at `now` with its only probe slot taken."""
    return open_breaker(now - 300).record_dispatch(now)
