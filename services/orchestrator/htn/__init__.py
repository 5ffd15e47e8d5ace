"""Hierarchical task network planning: domains of operators and methods, plans, and their validation."""

from services.orchestrator.htn.agent_plan import DEFAULT_MAX_AGENT_PLAN_STEPS, validate_agent_plan
from services.orchestrator.htn.builtin_domain import APPROVAL_PARAM, builtin_domain
from services.orchestrator.htn.conditions import Condition
from services.orchestrator.htn.domain import Domain
from services.orchestrator.htn.domain_file import load_domain_dict, load_domain_file, load_domain_text
from services.orchestrator.htn.learning import candidate_method_from_plan
from services.orchestrator.htn.methods import Method, MethodStep
from services.orchestrator.htn.operators import Operator, Tier
from services.orchestrator.htn.plan import AGENT_PLAN_METHOD, NoMethodApplies, Plan, PlannedTask, PlanRejection
from services.orchestrator.htn.planner import DEFAULT_MAX_PLAN_STEPS, plan, replan
from services.orchestrator.htn.problems import DomainProblem, InvalidDomain

__all__ = [
    "AGENT_PLAN_METHOD",
    "APPROVAL_PARAM",
    "DEFAULT_MAX_AGENT_PLAN_STEPS",
    "DEFAULT_MAX_PLAN_STEPS",
    "Condition",
    "Domain",
    "DomainProblem",
    "InvalidDomain",
    "Method",
    "MethodStep",
    "NoMethodApplies",
    "Operator",
    "Plan",
    "PlanRejection",
    "PlannedTask",
    "Tier",
    "builtin_domain",
    "candidate_method_from_plan",
    "load_domain_dict",
    "load_domain_file",
    "load_domain_text",
    "plan",
    "replan",
    "validate_agent_plan",
]
