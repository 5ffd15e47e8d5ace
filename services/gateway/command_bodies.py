"""Request bodies of the gateway's commands, and the catalogue payloads they become.

Bodies never carry the caller's identity: who submitted, cancelled or approved comes from the API key. Limits
mirror the catalogue's so a body that validates here always makes a payload that validates there.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from shared.events.catalogue.agents import RegisterAgent, Role
from shared.events.catalogue.goals import ApproveGate, CancelGoal, RejectGate, SubmitGoal

#: Ids travel in URL paths and Kafka keys: no slashes, spaces or control characters.
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$"
MAX_ID_LENGTH = 200
Capability = Annotated[str, Field(min_length=1, max_length=100)]


class CommandBody(BaseModel):
    """Strict: unknown fields are errors (a typo must not be ignored silently); whitespace is trimmed."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class SubmitGoalBody(CommandBody):
    """Ask for a goal. ``goal_id`` may be chosen by the client; otherwise the gateway makes one."""

    goal_id: str | None = Field(default=None, min_length=1, max_length=MAX_ID_LENGTH, pattern=IDENTIFIER_PATTERN)
    goal_type: str = Field(min_length=1, max_length=100, examples=["fix_bug"])
    title: str = Field(default="", max_length=500)
    params: dict[str, Any] = Field(default_factory=dict)
    priority: int = Field(default=0, ge=0, le=10)

    def command(self, *, goal_id: str, submitted_by: str) -> SubmitGoal:
        """The SubmitGoal payload for this body, under ``goal_id`` (the body's own one when it gave one)."""
        return SubmitGoal(
            goal_id=goal_id,
            goal_type=self.goal_type,
            title=self.title,
            params=self.params,
            priority=self.priority,
            submitted_by=submitted_by,
        )


class CancelGoalBody(CommandBody):
    """Why a goal is being stopped."""

    reason: str = Field(default="", max_length=2000)

    def command(self, *, goal_id: str, requested_by: str) -> CancelGoal:
        """The CancelGoal payload."""
        return CancelGoal(goal_id=goal_id, reason=self.reason, requested_by=requested_by)


class ApproveGateBody(CommandBody):
    """An approval, with an optional comment."""

    comment: str = Field(default="", max_length=2000)

    def command(self, *, goal_id: str, task_id: str, approver: str) -> ApproveGate:
        """The ApproveGate payload."""
        return ApproveGate(goal_id=goal_id, task_id=task_id, approver=approver, comment=self.comment)


class RejectGateBody(CommandBody):
    """A rejection, with the reason shown to whoever follows the goal."""

    reason: str = Field(default="", max_length=2000)

    def command(self, *, goal_id: str, task_id: str, approver: str) -> RejectGate:
        """The RejectGate payload."""
        return RejectGate(goal_id=goal_id, task_id=task_id, approver=approver, reason=self.reason)


class RegisterAgentBody(CommandBody):
    """An agent to add to the fleet."""

    agent_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=IDENTIFIER_PATTERN)
    role: Role = "worker"
    capabilities: list[Capability] = Field(min_length=1, max_length=100, examples=[["code", "tests"]])
    capacity: int = Field(default=1, ge=1, le=1000)
    cost: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    model: str = Field(default="", max_length=200)

    def command(self) -> RegisterAgent:
        """The RegisterAgent payload."""
        return RegisterAgent(
            agent_id=self.agent_id,
            role=self.role,
            capabilities=self.capabilities,
            capacity=self.capacity,
            cost=self.cost,
            model=self.model,
        )
