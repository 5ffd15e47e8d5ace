"""Decisions: questions a group of agents decides by a tier's protocol, with every vote in the audit trail.

Commands go to ``architect.decisions.commands`` and events to ``architect.decisions.events``, both keyed by
decision id; the consensus engine owns every type. Agents answer a round either through tasks (the engine
creates a TaskCreated per voter with the decision id as ``goal_id``; its TaskSucceeded output carries the
vote or contribution) or directly with ``CastVote`` / ``Contribute``. A decision the agents could not settle
is escalated; when it needs a human, ``ResolveDecision`` records the human's choice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from shared.bus.topics import DECISIONS_COMMANDS, DECISIONS_EVENTS
from shared.events.envelope import Payload
from shared.events.spec import EventSpec

DecisionTier = Literal["strategic", "tactical", "operational"]
ProtocolOverride = Literal["majority", "supermajority", "unanimity", "weighted", "bft"]
BallotVia = Literal["tasks", "commands"]
DebatePhase = Literal["propose", "critique", "revise"]

OWNER = "consensus"


class RequestDecision(Payload):
    """Decide ``question`` among ``options`` (None: free answers) by ``electorate`` under ``tier``'s policy.

    ``protocol`` replaces the tier's stages by one vote with that protocol (e.g. ``bft``); ``ballot_via``
    says how voters are asked: a task per voter (``tasks``) or nothing (``commands``: they send CastVote).
    """

    decision_id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    question: str = Field(min_length=1, max_length=2000)
    tier: DecisionTier
    electorate: list[str] = Field(min_length=1, max_length=1000)
    options: list[str] | None = None
    deadline: datetime | None = None
    protocol: ProtocolOverride | None = None
    ballot_via: BallotVia = "tasks"
    requested_by: str = "anonymous"
    context: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> RequestDecision:
        if any(not voter for voter in self.electorate):
            raise ValueError("electorate members must be non-empty agent ids")
        if self.options is not None and (not self.options or any(not o for o in self.options)):
            raise ValueError("options, when given, must be a non-empty list of non-empty strings")
        return self


class CastVote(Payload):
    """``voter``'s choice in ``round`` of a decision (a weight is never taken from the voter)."""

    decision_id: str
    voter: str = Field(min_length=1)
    choice: str = Field(min_length=1)
    round: int = Field(ge=1)
    rationale: str = ""


class Contribute(Payload):
    """``agent``'s contribution to ``phase`` of debate ``round``; ``position`` for propose and revise."""

    decision_id: str
    agent: str = Field(min_length=1)
    round: int = Field(ge=1)
    phase: DebatePhase
    text: str = ""
    position: str | None = None


class DecisionStepDue(Payload):
    """Delivered by the scheduler when the step ``step_id`` of a decision reached its deadline."""

    decision_id: str
    step_id: str


class ResolveDecision(Payload):
    """A human decides an escalated decision."""

    decision_id: str
    choice: str = Field(min_length=1)
    resolved_by: str = "anonymous"
    comment: str = ""


class JudgeDecision(Payload):
    """Someone learned which answer was right: each voter's call is judged, and its track record (the weight
    its future votes count for in weighted protocols) follows."""

    decision_id: str
    correct_choice: str = Field(min_length=1)
    judged_by: str = "anonymous"
    comment: str = ""


class DecisionRequested(Payload):
    decision_id: str
    question: str
    tier: DecisionTier
    electorate: list[str]
    options: list[str] | None = None
    deadline: datetime | None = None
    protocol: ProtocolOverride | None = None
    ballot_via: BallotVia = "tasks"
    requested_by: str = "anonymous"
    policy: dict[str, Any] = Field(default_factory=dict)
    weights: dict[str, float] = Field(default_factory=dict)


class RoundOpened(Payload):
    """A vote round began: ``voters`` are asked (``ballot="debate_positions"``: final debate positions counted)."""

    decision_id: str
    round: int
    step_id: str | None = None
    protocol: str
    term: int = 0
    voters: list[str] = Field(default_factory=list)
    deadline: datetime | None = None
    ballot: Literal["fresh", "debate_positions"] = "fresh"


class ContributionsRequested(Payload):
    """A debate phase began: ``agents`` are asked for their ``phase`` contribution."""

    decision_id: str
    round: int
    step_id: str
    phase: DebatePhase
    agents: list[str] = Field(default_factory=list)
    deadline: datetime | None = None


class VoteRecorded(Payload):
    """An accepted vote, with the weight its voter's track record earned."""

    decision_id: str
    round: int
    voter: str
    choice: str
    weight: float | None = None
    rationale: str = ""
    term: int = 0
    equivocation: bool = False
    """True when the voter had already voted differently in this round (its votes in it are dropped)."""


class VoteRejected(Payload):
    """A vote that was not counted (outsider, unknown option: ``rejected``; round not open: ``ignored``)."""

    decision_id: str
    round: int
    voter: str
    choice: str
    reason: str
    disposition: Literal["rejected", "ignored"] = "rejected"


class EquivocationDetected(Payload):
    """``voter`` voted for different choices in one round: flagged, all its votes of the round dropped."""

    decision_id: str
    round: int
    voter: str
    choices: list[str]


class ContributionRecorded(Payload):
    decision_id: str
    round: int
    agent: str
    phase: DebatePhase
    text: str = ""
    position: str | None = None


class ContributionRejected(Payload):
    decision_id: str
    round: int
    agent: str
    phase: DebatePhase
    reason: str
    disposition: Literal["rejected", "ignored"] = "rejected"


class RoundClosed(Payload):
    decision_id: str
    round: int
    why: str
    protocol: str
    choice: str | None = None
    tally: dict[str, float] = Field(default_factory=dict)
    reasons: list[str] = Field(default_factory=list)
    flagged: list[str] = Field(default_factory=list)


class DecisionProgressed(Payload):
    """Any other fact of the audit trail (debate started, converged, exhausted, phase closed, stage skipped)."""

    decision_id: str
    kind: str
    round: int | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class DecisionReached(Payload):
    decision_id: str
    choice: str
    protocol: str
    tally: dict[str, float] = Field(default_factory=dict)
    reasons: list[str] = Field(default_factory=list)
    flagged: list[str] = Field(default_factory=list)
    term: int | None = None
    leader: str | None = None
    decided_by: str = "agents"
    """``agents``, or the human who resolved an escalated decision."""


class DecisionEscalated(Payload):
    """No protocol reached a choice; ``requires_approval`` when a human must decide (ResolveDecision)."""

    decision_id: str
    reason: str
    positions: dict[str, str] = Field(default_factory=dict)
    last_outcome: dict[str, Any] | None = None
    requires_approval: bool = True


class DecisionJudged(Payload):
    """Each judged agent's call: True when its final vote (or debate position) was the correct choice."""

    decision_id: str
    correct_choice: str
    judged_by: str = "anonymous"
    verdicts: dict[str, bool] = Field(default_factory=dict)


def _command(payload: type[Payload], description: str) -> EventSpec:
    return EventSpec(payload.__name__, 1, payload, DECISIONS_COMMANDS, "command", OWNER, description)


def _event(payload: type[Payload], description: str) -> EventSpec:
    return EventSpec(payload.__name__, 1, payload, DECISIONS_EVENTS, "event", OWNER, description)


SPECS: tuple[EventSpec, ...] = (
    _command(RequestDecision, "Ask the agents of an electorate to decide a question under a tier's policy."),
    _command(CastVote, "A voter's choice in one round of a decision."),
    _command(Contribute, "An agent's contribution to one phase of a decision's debate."),
    _command(DecisionStepDue, "A scheduled deadline of a decision's vote round or debate phase came due."),
    _command(ResolveDecision, "A human decides an escalated decision."),
    _command(JudgeDecision, "Which answer of a decided question was right (updates the voters' track records)."),
    _event(DecisionRequested, "A decision was opened under its tier's policy, with the voters' weights."),
    _event(RoundOpened, "A vote round of a decision began."),
    _event(ContributionsRequested, "A debate phase of a decision began."),
    _event(VoteRecorded, "A vote was accepted into a round, with its weight and rationale."),
    _event(VoteRejected, "A vote was not counted, with the reason."),
    _event(EquivocationDetected, "A voter voted twice differently in one round; its votes there are dropped."),
    _event(ContributionRecorded, "A debate contribution was accepted."),
    _event(ContributionRejected, "A debate contribution was not accepted, with the reason."),
    _event(RoundClosed, "A vote round of a decision was counted."),
    _event(DecisionProgressed, "Another step of a decision's history (debate started, converged, exhausted ...)."),
    _event(DecisionReached, "A decision was made."),
    _event(DecisionEscalated, "No protocol reached a choice: the decision goes up (to a human when required)."),
    _event(DecisionJudged, "Each voter's call on a decided question was judged right or wrong."),
)
