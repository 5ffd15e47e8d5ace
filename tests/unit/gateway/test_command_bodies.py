"""Command bodies: what the gateway accepts, and the catalogue payloads they become."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.gateway.command_bodies import (
    ApproveGateBody,
    CancelGoalBody,
    RegisterAgentBody,
    RejectGateBody,
    SubmitGoalBody,
)
from shared.events.catalogue.goals import ApproveGate, CancelGoal, RejectGate, SubmitGoal


def error_fields(exc: ValidationError) -> set[str]:
    return {".".join(str(part) for part in error["loc"]) for error in exc.errors()}


def test_a_submission_becomes_submit_goal_with_the_callers_identity() -> None:
    body = SubmitGoalBody(goal_type="fix_bug", title="Crash on save", params={"repo": "x"}, priority=3)
    assert body.command(goal_id="g-1", submitted_by="alice") == SubmitGoal(
        goal_id="g-1",
        goal_type="fix_bug",
        title="Crash on save",
        params={"repo": "x"},
        priority=3,
        submitted_by="alice",
    )


def test_a_submission_may_leave_the_goal_id_to_the_gateway() -> None:
    assert SubmitGoalBody(goal_type="fix_bug").goal_id is None


def test_the_submitter_cannot_be_set_in_the_body() -> None:
    with pytest.raises(ValidationError) as raised:
        SubmitGoalBody.model_validate({"goal_type": "fix_bug", "submitted_by": "mallory"})
    assert error_fields(raised.value) == {"submitted_by"}


@pytest.mark.parametrize(
    ("field", "value"),
    [("goal_id", "a/b"), ("goal_id", "has space"), ("goal_id", ""), ("priority", 11), ("priority", -1)],
)
def test_an_invalid_submission_names_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        SubmitGoalBody.model_validate({"goal_type": "fix_bug", field: value})
    assert error_fields(raised.value) == {field}


def test_a_blank_goal_type_is_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        SubmitGoalBody.model_validate({"goal_type": "   "})
    assert error_fields(raised.value) == {"goal_type"}


def test_cancel_carries_the_reason_and_who_asked() -> None:
    assert CancelGoalBody(reason="wrong repo").command(goal_id="g-1", requested_by="alice") == CancelGoal(
        goal_id="g-1", reason="wrong repo", requested_by="alice"
    )


def test_approval_and_rejection_name_the_caller_as_approver() -> None:
    assert ApproveGateBody(comment="ship it").command(goal_id="g", task_id="t", approver="bob") == ApproveGate(
        goal_id="g", task_id="t", approver="bob", comment="ship it"
    )
    assert RejectGateBody(reason="too risky").command(goal_id="g", task_id="t", approver="bob") == RejectGate(
        goal_id="g", task_id="t", approver="bob", reason="too risky"
    )


def test_an_agent_needs_at_least_one_capability() -> None:
    with pytest.raises(ValidationError) as raised:
        RegisterAgentBody.model_validate({"agent_id": "a-1", "capabilities": []})
    assert error_fields(raised.value) == {"capabilities"}


def test_an_empty_capability_is_refused_at_its_position() -> None:
    with pytest.raises(ValidationError) as raised:
        RegisterAgentBody.model_validate({"agent_id": "a-1", "capabilities": ["code", ""]})
    assert error_fields(raised.value) == {"capabilities.1"}


@pytest.mark.parametrize(("field", "value"), [("cost", float("inf")), ("capacity", 0), ("role", "boss")])
def test_an_invalid_agent_names_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        RegisterAgentBody.model_validate({"agent_id": "a-1", "capabilities": ["code"], field: value})
    assert error_fields(raised.value) == {field}


def test_an_agent_becomes_register_agent() -> None:
    body = RegisterAgentBody(agent_id="a-1", role="manager", capabilities=["review"], capacity=2, cost=0.5, model="m")
    command = body.command()
    assert command.model_dump() == body.model_dump()


identifiers = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._:@-]{0,60}\Z")
plain_text = st.text(st.characters(categories=("L", "N", "P", "Zs")), max_size=120)


@settings(max_examples=60, deadline=None)
@given(
    goal_id=st.none() | identifiers,
    goal_type=plain_text.filter(lambda t: t.strip()).map(lambda t: t[:100]),
    title=plain_text,
    params=st.dictionaries(st.text(max_size=10), st.integers() | st.text(max_size=10), max_size=3),
    priority=st.integers(0, 10),
)
def test_every_accepted_submission_makes_a_payload_the_catalogue_accepts(
    goal_id: str | None, goal_type: str, title: str, params: dict[str, Any], priority: int
) -> None:
    body = SubmitGoalBody(goal_id=goal_id, goal_type=goal_type, title=title, params=params, priority=priority)
    command = body.command(goal_id=body.goal_id or "generated", submitted_by="alice")
    assert SubmitGoal.model_validate(command.model_dump()) == command
