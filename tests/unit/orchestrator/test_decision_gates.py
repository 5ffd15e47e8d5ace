"""Decision gates: a goal's step waits for a decision of agents (pure: the gate specs, and the decider's flow)."""

from __future__ import annotations

from typing import Any

import pytest

from services.consensus.goal_bridge import goal_reply
from services.orchestrator.decider import Context, Decision, Delayed, decide
from services.orchestrator.decision_gates import BadGate, decision_id_for, gate_for, problems, request
from services.orchestrator.htn import builtin_domain
from services.orchestrator.htn.plan import Plan, PlannedTask
from shared.events.catalogue.gates import DecisionGateSettled
from shared.events.catalogue.goals import ApproveGate, SubmitGoal
from shared.events.catalogue.tasks import TaskAssigned, TaskStarted, TaskSucceeded
from shared.events.codec import new_event
from shared.events.envelope import Envelope

FLEET = {"rev-1": ("review",), "rev-2": ("review", "code"), "coder": ("code",)}
CAPABILITIES = frozenset({"design", "code", "test", "review", "deploy"})
STEPS = ["design", "code", "tests", "review"]


def ctx(fleet: dict[str, tuple[str, ...]] | None = None) -> Context:
    return Context(builtin_domain(), CAPABILITIES, now=100.0, fleet=FLEET if fleet is None else fleet)


def cmd(payload: Any, goal: str = "g1") -> Envelope[Any]:
    return new_event(payload, producer="test", stream_id=goal, correlation_id=goal)


def emitted(decision: Decision, event_type: str) -> list[Envelope[Any]]:
    return [o for o in decision.emit if not isinstance(o, Delayed) and o.type == event_type]


def step(task_id: str, inputs: dict[str, Any] | None = None, operator: str = "deploy_staging") -> PlannedTask:
    return PlannedTask(task_id, operator, "deploy", inputs=inputs or {})


def up_to_the_gate(params: dict[str, Any], c: Context) -> Decision:
    decision = decide(None, cmd(SubmitGoal(goal_id="g1", goal_type="implement_feature", params=params)), c)
    for name in STEPS:
        task_id = f"g1/{name}"
        for payload in (
            TaskAssigned(task_id=task_id, goal_id="g1", agent_id="a", attempt=1),
            TaskStarted(task_id=task_id, goal_id="g1", agent_id="a", attempt=1),
            TaskSucceeded(task_id=task_id, goal_id="g1", agent_id="a", attempt=1),
        ):
            decision = decide(decision.record, cmd(payload), c)
    return decision


def settled(choice: str | None, accepted: bool) -> Envelope[Any]:
    decision_id = decision_id_for("g1/deploy_staging")
    payload = DecisionGateSettled(
        goal_id="g1", task_id="g1/deploy_staging", decision_id=decision_id, choice=choice, accepted=accepted
    )
    return cmd(payload)


def test_a_step_input_declares_a_gate_whose_values_may_name_goal_parameters() -> None:
    declared = {"question": "Ship ${what}?", "electorate": "${voters}", "tier": "tactical", "accept": ["ship"]}
    spec = gate_for(step("s", {"decision": declared}), "g1", {"voters": ["a", "b"], "what": "it"})
    assert spec is not None and spec.electorate == ("a", "b") and spec.tier == "tactical" and spec.accept == ("ship",)
    assert spec.question == "Ship ${what}?", "only whole values name parameters"
    assert gate_for(step("s"), "g1", {}) is None


def test_a_goal_asks_before_its_deploy_steps_of_the_review_agents_by_default() -> None:
    spec = gate_for(step("s"), "g1", {"decide_before_deploy": True})
    assert spec is not None and spec.capability == "review" and spec.options == ("yes", "no")
    assert gate_for(step("s", operator="code"), "g1", {"decide_before_deploy": True}) is None
    asked = request(spec, "g1", "g1/s", FLEET)
    assert asked.electorate == ["rev-1", "rev-2"] and asked.tier == "operational"
    assert asked.context["goal_gate"] == {"goal_id": "g1", "task_id": "g1/s"} and asked.decision_id == "gate:g1_s"
    with pytest.raises(BadGate, match="no agent with capability 'review'"):
        request(spec, "g1", "g1/s", {"coder": ("code",)})


def test_unusable_gates_are_named_before_anything_runs() -> None:
    plan = Plan("t", "m", (step("a", {"decision": {"tier": "cosmic", "votes": 3}}), step("b", {"decision": "yes"})))
    found = problems(plan, "g1", {})
    assert len(found) == 2 and "unknown fields ['votes']" in found[0] and "must be a mapping" in found[1]


def test_the_gated_step_waits_for_the_decision_then_runs_on_an_acceptable_choice() -> None:
    c = ctx()
    waiting = up_to_the_gate({"decide_before_deploy": True}, c)
    (asked,) = emitted(waiting, "RequestDecision")
    assert asked.stream_id == decision_id_for("g1/deploy_staging") and asked.payload.electorate == ["rev-1", "rev-2"]
    assert emitted(waiting, "TaskCreated") == [] and emitted(waiting, "ApprovalRequested") == []
    assert waiting.record is not None and waiting.record.progress.task("deploy_staging").state == "awaiting_approval"

    go = decide(waiting.record, settled("yes", True), c)
    (created,) = emitted(go, "TaskCreated")
    assert created.payload.task_id == "g1/deploy_staging"
    (granted,) = emitted(go, "ApprovalGranted")
    assert granted.payload.approver == f"decision:{decision_id_for('g1/deploy_staging')}"
    assert decide(go.record, settled("yes", True), c).emit == [], "a redelivered reply changes nothing"


def test_an_unacceptable_choice_fails_the_goal_or_asks_a_human_when_the_gate_says_so() -> None:
    c = ctx()
    failed = decide(up_to_the_gate({"decide_before_deploy": True}, c).record, settled("no", False), c)
    assert failed.record is not None and failed.record.status == "failed"
    (reason,) = emitted(failed, "GoalFailed")
    assert "chose 'no'" in reason.payload.reason and emitted(failed, "TaskCreated") == []

    params = {"decide_before_deploy": {"on_reject": "approval"}}
    escalated = decide(up_to_the_gate(params, c).record, settled(None, False), c)
    (asked,) = emitted(escalated, "ApprovalRequested")
    assert "reached no choice" in asked.payload.prompt and escalated.record.status == "running"
    approved = decide(escalated.record, cmd(ApproveGate(goal_id="g1", task_id="g1/deploy_staging", approver="al")), c)
    assert [e.payload.task_id for e in emitted(approved, "TaskCreated")] == ["g1/deploy_staging"]


def test_without_an_electorate_the_gate_becomes_a_human_approval() -> None:
    waiting = up_to_the_gate({"decide_before_deploy": True}, ctx({"coder": ("code",)}))
    (asked,) = emitted(waiting, "ApprovalRequested")
    assert "no agent with capability 'review'" in asked.payload.prompt and emitted(waiting, "RequestDecision") == []


def test_a_bad_gate_declaration_fails_the_goal_at_once() -> None:
    params = {"decide_before_deploy": {"tier": "cosmic", "colour": "red"}}
    decision = decide(None, cmd(SubmitGoal(goal_id="g1", goal_type="implement_feature", params=params)), ctx())
    (failed,) = emitted(decision, "GoalFailed")
    assert "unknown fields ['colour']" in failed.payload.reason and emitted(decision, "TaskCreated") == []


def test_the_engine_tells_the_goal_whether_the_choice_is_acceptable() -> None:
    context = {"goal_gate": {"goal_id": "g1", "task_id": "g1/d"}, "accept": ["yes"]}
    assert goal_reply(context, "d1", "yes").accepted
    assert not goal_reply(context, "d1", "no").accepted
    assert not goal_reply(context, "d1", None, "no quorum").accepted
    assert goal_reply({"goal_gate": {"goal_id": "g1", "task_id": "t"}, "accept": []}, "d1", "anything").accepted
    assert goal_reply({}, "d1", "yes") is None
