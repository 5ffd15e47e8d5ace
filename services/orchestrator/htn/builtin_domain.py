"""The methods and operators Architect ships with: implement_feature, fix_bug and refactor.

Approval before deploying: `implement_feature` has two variant methods selected by the goal parameter
`approval_before_deploy`. With `approval_before_deploy: true` the `implement_feature_gated` method applies
and its `deploy_staging` step requires a human approval; otherwise `implement_feature` applies, ungated.
Their conditions exclude each other on purpose: a re-plan after a failure of the gated method must not
quietly fall back to the ungated one and deploy without the approval the user asked for.

Facts chain the steps (design_ready -> code_written -> tests_passed -> reviewed -> deployed_staging, and
so on), so a user method that reorders them is caught by the precondition check. `review` and `plan` are
manager-tier decisions (60 min timeout); everything else is worker-tier (30 min).
"""

from __future__ import annotations

from services.orchestrator.htn.conditions import Condition
from services.orchestrator.htn.domain import Domain
from services.orchestrator.htn.methods import Method, MethodStep
from services.orchestrator.htn.operators import Operator, Tier

APPROVAL_PARAM = "approval_before_deploy"


def _operator(name: str, capability: str, needs: tuple[str, ...], gives: str, tier: Tier = "worker") -> Operator:
    return Operator(name, capability, tier, frozenset(needs), frozenset({gives}))


BUILTIN_OPERATORS: tuple[Operator, ...] = (
    # implement_feature
    _operator("design", "design", (), "design_ready"),
    _operator("code", "code", ("design_ready",), "code_written"),
    _operator("tests", "test", ("code_written",), "tests_passed"),
    _operator("review", "review", ("tests_passed",), "reviewed", tier="manager"),
    _operator("deploy_staging", "deploy", ("reviewed",), "deployed_staging"),
    # fix_bug
    _operator("reproduce", "test", (), "bug_reproduced"),
    _operator("debug_root_cause", "analysis", ("bug_reproduced",), "root_cause_known"),
    _operator("implement_fix", "code", ("root_cause_known",), "fix_implemented"),
    _operator("verify_fix", "test", ("fix_implemented",), "fix_verified"),
    _operator("deploy_hotfix", "deploy", ("fix_verified",), "hotfix_deployed"),
    # refactor
    _operator("analyze", "analysis", (), "analysis_done"),
    _operator("plan", "analysis", ("analysis_done",), "refactor_planned", tier="manager"),
    _operator("refactor", "code", ("refactor_planned",), "code_refactored"),
    _operator("test", "test", ("code_refactored",), "refactor_tested"),
    _operator("document", "docs", ("refactor_tested",), "documented"),
)


def _sequence(name: str, task: str, steps: tuple[str, ...], condition: Condition, gated: str = "") -> Method:
    return Method(
        name=name,
        task=task,
        steps=tuple(MethodStep(id=step, task=step, requires_approval=step == gated) for step in steps),
        condition=condition,
    )


_FEATURE_STEPS = ("design", "code", "tests", "review", "deploy_staging")

BUILTIN_METHODS: tuple[Method, ...] = (
    _sequence(
        "implement_feature_gated",
        "implement_feature",
        _FEATURE_STEPS,
        Condition(params={APPROVAL_PARAM: True}),
        gated="deploy_staging",
    ),
    _sequence("implement_feature", "implement_feature", _FEATURE_STEPS, Condition(params_not={APPROVAL_PARAM: True})),
    _sequence(
        "fix_bug",
        "fix_bug",
        ("reproduce", "debug_root_cause", "implement_fix", "verify_fix", "deploy_hotfix"),
        Condition(),
    ),
    _sequence("refactor", "refactor", ("analyze", "plan", "refactor", "test", "document"), Condition()),
)


def builtin_domain() -> Domain:
    """A fresh Domain with the built-in operators and methods."""
    return Domain(BUILTIN_OPERATORS, BUILTIN_METHODS)
