"""Debate as a pure state machine: rounds of propose -> critique -> revise, with a convergence check.

Round 1 opens with every agent proposing a position. Each agent then critiques the current positions,
and revises its own position in the light of the critiques. Later rounds start at the critique: the
revised positions are the new proposals. After every revise phase the debate checks convergence: the
most common final position must be held by at least ``convergence`` of *all* participants (agents that
never stated a position count as disagreeing). The default, 1, means every agent ends on the same
position; 3/4 would accept three agents out of four. Thresholds must exceed 1/2 so that a converged
position is unique. If the last allowed round ends without convergence the debate is exhausted and the
caller falls back (to a vote, or to a human).

The machine never waits: a phase completes when every agent has contributed, or when the caller
closes it (its deadline passed); agents that stayed silent keep their previous position. Positions are
compared exactly, so agents should be asked to state them as one of the options or a canonical answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from fractions import Fraction
from typing import Any, Literal

from services.consensus.protocols.threshold import parse_fraction


class Phase(StrEnum):
    """The three steps of a debate round."""

    PROPOSE = "propose"
    CRITIQUE = "critique"
    REVISE = "revise"


@dataclass(frozen=True)
class Contribution:
    """What ``agent`` said in ``phase`` of ``round``: free ``text``, and for propose/revise the
    ``position`` it takes (None in a revision = position unchanged)."""

    agent: str
    round: int
    phase: Phase
    text: str = ""
    position: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "phase", Phase(self.phase))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "agent": self.agent,
            "round": self.round,
            "phase": str(self.phase),
            "text": self.text,
            "position": self.position,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Contribution:
        """Inverse of :meth:`to_dict`."""
        return cls(
            str(data["agent"]),
            int(data["round"]),
            Phase(data["phase"]),
            str(data.get("text", "")),
            data.get("position"),
        )


@dataclass(frozen=True)
class ContributionRequest:
    """A contribution the debate is waiting for: the service turns each into an agent task."""

    agent: str
    round: int
    phase: Phase

    @property
    def request_id(self) -> str:
        """Stable id, unique within a decision (usable for deterministic task ids)."""
        return f"r{self.round}:{self.phase}:{self.agent}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"agent": self.agent, "round": self.round, "phase": str(self.phase), "request_id": self.request_id}


@dataclass(frozen=True)
class DebateRules:
    """At most ``max_rounds`` rounds; converged when ``convergence`` (in (1/2, 1]) of agents agree."""

    max_rounds: int = 5
    convergence: Fraction = Fraction(1)

    def __post_init__(self) -> None:
        object.__setattr__(self, "convergence", parse_fraction(self.convergence))
        if self.max_rounds < 1:
            raise ValueError("a debate needs at least one round")
        if not Fraction(1, 2) < self.convergence <= 1:
            raise ValueError(f"convergence must be in (1/2, 1], got {self.convergence}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"max_rounds": self.max_rounds, "convergence": str(self.convergence)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DebateRules:
        """Inverse of :meth:`to_dict`."""
        return cls(int(data.get("max_rounds", 5)), parse_fraction(data.get("convergence", "1")))


Acceptance = Literal["accepted", "duplicate", "conflicting", "not_expected", "not_a_participant"]
DebateStatus = Literal["running", "converged", "exhausted"]


@dataclass(frozen=True)
class Debate:
    """A debate among ``agents``; rounds are numbered from ``first_round`` (a decision's global rounds)."""

    agents: tuple[str, ...]
    rules: DebateRules = DebateRules()
    first_round: int = 1
    round: int = 1
    phase: Phase = Phase.PROPOSE
    status: DebateStatus = "running"
    contributions: tuple[Contribution, ...] = ()

    @classmethod
    def start(cls, agents: Iterable[str], rules: DebateRules = DebateRules(), first_round: int = 1) -> Debate:
        """A debate waiting for every agent's proposal."""
        members = tuple(sorted(set(agents)))
        if not members:
            raise ValueError("a debate needs participants")
        return cls(members, rules, first_round, first_round)

    @property
    def last_round(self) -> int:
        """The number of the last round the rules allow."""
        return self.first_round + self.rules.max_rounds - 1

    @property
    def rounds_held(self) -> int:
        """Rounds started so far."""
        return self.round - self.first_round + 1

    def _current(self) -> dict[str, Contribution]:
        return {c.agent: c for c in self.contributions if c.round == self.round and c.phase == self.phase}

    def expected(self) -> tuple[ContributionRequest, ...]:
        """Contributions still awaited in the current phase (none once the debate has ended)."""
        if self.status != "running":
            return ()
        given = self._current()
        return tuple(ContributionRequest(a, self.round, self.phase) for a in self.agents if a not in given)

    def context(self) -> tuple[Contribution, ...]:
        """What the current phase responds to: the current positions for a critique, this round's
        critiques for a revision, nothing for the opening proposals."""
        if self.phase == Phase.REVISE:
            return tuple(c for c in self.contributions if c.round == self.round and c.phase == Phase.CRITIQUE)
        if self.phase == Phase.CRITIQUE:
            return tuple(self.stances().values())
        return ()

    def stances(self) -> dict[str, Contribution]:
        """Each agent's latest contribution that stated a position (its argument for it)."""
        stances: dict[str, Contribution] = {}
        for contribution in self.contributions:
            if contribution.phase != Phase.CRITIQUE and contribution.position is not None:
                stances[contribution.agent] = contribution
        return dict(sorted(stances.items()))

    def positions(self) -> dict[str, str]:
        """Each agent's latest stated position (agents that never stated one are absent)."""
        return {agent: c.position for agent, c in self.stances().items() if c.position is not None}

    def agreement(self) -> tuple[str | None, Fraction]:
        """The most common position and the fraction of all agents holding it."""
        counts = Counter(self.positions().values())
        if not counts:
            return None, Fraction(0)
        position, count = min(counts.items(), key=lambda item: (-item[1], item[0]))
        return position, Fraction(count, len(self.agents))

    @property
    def consensus(self) -> str | None:
        """The agreed position, once converged."""
        return self.agreement()[0] if self.status == "converged" else None

    def accept(self, contribution: Contribution) -> tuple[Debate, Acceptance]:
        """Record ``contribution`` if it is awaited; the phase advances once every agent contributed.

        A repeat of the same contribution is a harmless duplicate; a different second contribution for
        the same phase is ``conflicting`` and ignored (the first one stands).
        """
        if contribution.agent not in self.agents:
            return self, "not_a_participant"
        earlier = next(
            (
                c
                for c in self.contributions
                if (c.agent, c.round, c.phase) == (contribution.agent, contribution.round, contribution.phase)
            ),
            None,
        )
        if earlier is not None:
            return self, "duplicate" if earlier == contribution else "conflicting"
        if self.status != "running" or (contribution.round, contribution.phase) != (self.round, self.phase):
            return self, "not_expected"
        debate = replace(self, contributions=(*self.contributions, contribution))
        return (debate.close_phase() if not debate.expected() else debate), "accepted"

    def close_phase(self) -> Debate:
        """End the current phase with whatever arrived, and move on (or finish the debate)."""
        if self.status != "running":
            return self
        if self.phase == Phase.PROPOSE:
            return replace(self, phase=Phase.CRITIQUE)
        if self.phase == Phase.CRITIQUE:
            return replace(self, phase=Phase.REVISE)
        position, share = self.agreement()
        if position is not None and share >= self.rules.convergence:
            return replace(self, status="converged")
        if self.round >= self.last_round:
            return replace(self, status="exhausted")
        return replace(self, round=self.round + 1, phase=Phase.CRITIQUE)

    def stop(self) -> Debate:
        """End the debate now, unconverged (e.g. because the decision's deadline passed)."""
        return replace(self, status="exhausted") if self.status == "running" else self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "agents": list(self.agents),
            "rules": self.rules.to_dict(),
            "first_round": self.first_round,
            "round": self.round,
            "phase": str(self.phase),
            "status": self.status,
            "contributions": [c.to_dict() for c in self.contributions],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Debate:
        """Inverse of :meth:`to_dict`."""
        return cls(
            agents=tuple(data["agents"]),
            rules=DebateRules.from_dict(data["rules"]),
            first_round=int(data["first_round"]),
            round=int(data["round"]),
            phase=Phase(data["phase"]),
            status=data["status"],
            contributions=tuple(Contribution.from_dict(c) for c in data["contributions"]),
        )
