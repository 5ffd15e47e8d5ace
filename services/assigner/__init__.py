"""Assigner: the agent registry, routing strategies, circuit breakers and retry policies."""

from services.assigner.agent_view import DEFAULT_HEARTBEAT_TIMEOUT_S, AgentView, Role
from services.assigner.assign_rule import (
    DEFAULT_MIN_STABILITY,
    RoutingRules,
    TaskView,
    apply_assignment,
    can_assign,
    ineligibility,
)
from services.assigner.breaker import ARCHITECT_BREAKER, BreakerConfig, BreakerPolicy, BreakerState, CircuitBreaker
from services.assigner.registry import AgentRegistry
from services.assigner.retry_policy import (
    ERROR_CLASSES,
    Backoff,
    RetryDecision,
    RetryPolicy,
    adaptive_policy,
    exponential_policy,
    jittered_policy,
    next_retry,
)
from services.assigner.routing import (
    Assign,
    AuctionWeights,
    Bid,
    Escalate,
    RoutingDecision,
    Wait,
    route,
    route_by_auction,
    route_by_priority,
)

__all__ = [
    "ARCHITECT_BREAKER",
    "DEFAULT_HEARTBEAT_TIMEOUT_S",
    "DEFAULT_MIN_STABILITY",
    "ERROR_CLASSES",
    "AgentRegistry",
    "AgentView",
    "Assign",
    "AuctionWeights",
    "Backoff",
    "Bid",
    "BreakerConfig",
    "BreakerPolicy",
    "BreakerState",
    "CircuitBreaker",
    "Escalate",
    "RetryDecision",
    "RetryPolicy",
    "Role",
    "RoutingDecision",
    "RoutingRules",
    "TaskView",
    "Wait",
    "adaptive_policy",
    "apply_assignment",
    "can_assign",
    "exponential_policy",
    "ineligibility",
    "jittered_policy",
    "next_retry",
    "route",
    "route_by_auction",
    "route_by_priority",
]
