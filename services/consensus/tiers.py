"""Tier policies: which protocols a decision runs through, in order, before it escalates.

A policy is a sequence of stages. A vote stage opens a round of votes (``ballot="fresh"``) or counts the
final positions of the preceding debate as votes (``ballot="debate_positions"``, no extra round trip);
a debate stage runs a debate. The first stage that reaches a choice ends the decision; when every
stage has failed, the decision escalates with the policy's reason.

Defaults (SEED-NOTES section 5):

* strategic: debate up to 5 rounds; no convergence -> escalate to a human approval;
* tactical: supermajority (>= 2/3 of votes cast), else debate up to 3 rounds, else a weighted vote
  (track-record weights, leader tie-break) over the debate's final positions;
* operational: instant majority (> 50% of votes cast; a round closes as soon as the result cannot
  change), leader tie-break on a tie.

Every number is a parameter of the ``*_policy`` builders, and whole policies load from plain dicts
(``TierPolicies.from_dict``) so deployments can configure them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

from services.consensus.debate import DebateRules
from services.consensus.protocols.spec import ProtocolSpec
from services.consensus.protocols.supermajority import DEFAULT_FRACTION

Tier = Literal["strategic", "tactical", "operational"]
TIERS: tuple[Tier, ...] = ("strategic", "tactical", "operational")
Ballot = Literal["fresh", "debate_positions"]


@dataclass(frozen=True)
class VoteStage:
    """Decide by ``protocol`` over a fresh round of votes or over the last debate's positions."""

    protocol: ProtocolSpec
    ballot: Ballot = "fresh"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"stage": "vote", "protocol": self.protocol.to_dict(), "ballot": self.ballot}


@dataclass(frozen=True)
class DebateStage:
    """Run a debate under ``rules``; convergence decides."""

    rules: DebateRules = field(default_factory=DebateRules)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"stage": "debate", "rules": self.rules.to_dict()}


Stage = VoteStage | DebateStage


def stage_from_dict(data: Mapping[str, Any]) -> Stage:
    """Inverse of the stages' ``to_dict``."""
    if data["stage"] == "vote":
        return VoteStage(ProtocolSpec.from_dict(data["protocol"]), data.get("ballot", "fresh"))
    if data["stage"] == "debate":
        return DebateStage(DebateRules.from_dict(data.get("rules", {})))
    raise ValueError(f"unknown stage {data['stage']!r}")


@dataclass(frozen=True)
class TierPolicy:
    """Stages tried in order; each step (vote round or debate phase) waits at most ``step_timeout_s``;
    ``escalation`` is the reason given when every stage failed."""

    tier: Tier
    stages: tuple[Stage, ...]
    step_timeout_s: float
    escalation: str

    def __post_init__(self) -> None:
        if not self.stages:
            raise ValueError("a tier policy needs at least one stage")
        if self.step_timeout_s <= 0:
            raise ValueError("step_timeout_s must be positive")
        debated = False
        for stage in self.stages:
            if isinstance(stage, VoteStage) and stage.ballot == "debate_positions" and not debated:
                raise ValueError("a vote over debate positions must follow a debate stage")
            debated = debated or isinstance(stage, DebateStage)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "tier": self.tier,
            "stages": [stage.to_dict() for stage in self.stages],
            "step_timeout_s": self.step_timeout_s,
            "escalation": self.escalation,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TierPolicy:
        """Inverse of :meth:`to_dict`."""
        return cls(
            tier=data["tier"],
            stages=tuple(stage_from_dict(s) for s in data["stages"]),
            step_timeout_s=float(data["step_timeout_s"]),
            escalation=str(data["escalation"]),
        )


def strategic_policy(
    debate_rounds: int = 5, convergence: Fraction = Fraction(1), step_timeout_s: float = 1800.0
) -> TierPolicy:
    """Debate; no convergence -> a human decides."""
    return TierPolicy(
        "strategic",
        (DebateStage(DebateRules(debate_rounds, convergence)),),
        step_timeout_s,
        f"strategic debate did not converge within {debate_rounds} rounds: human approval required",
    )


def tactical_policy(
    fraction: Fraction = DEFAULT_FRACTION,
    debate_rounds: int = 3,
    convergence: Fraction = Fraction(1),
    step_timeout_s: float = 900.0,
) -> TierPolicy:
    """Supermajority, else debate, else a weighted vote over the debate's final positions."""
    return TierPolicy(
        "tactical",
        (
            VoteStage(ProtocolSpec("supermajority", fraction=fraction)),
            DebateStage(DebateRules(debate_rounds, convergence)),
            VoteStage(ProtocolSpec("weighted", tie_break=True), ballot="debate_positions"),
        ),
        step_timeout_s,
        "tactical decision found no supermajority, no debate convergence and no weighted winner",
    )


def operational_policy(step_timeout_s: float = 300.0, tie_break: bool = True) -> TierPolicy:
    """One instant majority vote."""
    return TierPolicy(
        "operational",
        (VoteStage(ProtocolSpec("majority", tie_break=tie_break)),),
        step_timeout_s,
        "operational vote found no majority",
    )


@dataclass(frozen=True)
class TierPolicies:
    """The policy in force for each tier."""

    strategic: TierPolicy = field(default_factory=strategic_policy)
    tactical: TierPolicy = field(default_factory=tactical_policy)
    operational: TierPolicy = field(default_factory=operational_policy)

    def for_tier(self, tier: Tier) -> TierPolicy:
        """The policy for ``tier``."""
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}; expected one of {', '.join(TIERS)}")
        policy: TierPolicy = getattr(self, tier)
        return policy

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {tier: self.for_tier(tier).to_dict() for tier in TIERS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TierPolicies:
        """Policies from a dict; tiers that are absent keep their defaults."""
        return cls(**{tier: TierPolicy.from_dict({"tier": tier, **data[tier]}) for tier in TIERS if tier in data})
