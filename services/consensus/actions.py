"""What a decision asks its service to do next; the service turns each action into events or tasks.

Actions that wait for agents carry a ``step_id`` and a ``deadline`` (seconds, same clock as ``now``):
the service schedules a deadline signal for that step and feeds it back with
:meth:`services.consensus.decision.Decision.deadline_passed`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.consensus.debate import Contribution, ContributionRequest, Phase
from services.consensus.protocols.outcome import Outcome


@dataclass(frozen=True)
class OpenVoteRound:
    """Ask ``voters`` for one vote each in ``round`` (under leader ``term``), counted by ``protocol``."""

    decision_id: str
    step_id: str
    round: int
    term: int
    question: str
    options: tuple[str, ...] | None
    voters: tuple[str, ...]
    protocol: str
    deadline: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "action": "open_vote_round",
            "decision_id": self.decision_id,
            "step_id": self.step_id,
            "round": self.round,
            "term": self.term,
            "question": self.question,
            "options": None if self.options is None else list(self.options),
            "voters": list(self.voters),
            "protocol": self.protocol,
            "deadline": self.deadline,
        }


@dataclass(frozen=True)
class RequestContributions:
    """Ask each agent in ``requests`` for its ``phase`` contribution in debate ``round``; ``context``
    holds the contributions it responds to."""

    decision_id: str
    step_id: str
    round: int
    phase: Phase
    question: str
    options: tuple[str, ...] | None
    requests: tuple[ContributionRequest, ...]
    context: tuple[Contribution, ...]
    deadline: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "action": "request_contributions",
            "decision_id": self.decision_id,
            "step_id": self.step_id,
            "round": self.round,
            "phase": str(self.phase),
            "question": self.question,
            "options": None if self.options is None else list(self.options),
            "requests": [r.to_dict() for r in self.requests],
            "context": [c.to_dict() for c in self.context],
            "deadline": self.deadline,
        }


@dataclass(frozen=True)
class DecisionReached:
    """The decision is made: ``choice``, with the ``outcome`` that made it."""

    decision_id: str
    choice: str
    outcome: Outcome

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "action": "decision_reached",
            "decision_id": self.decision_id,
            "choice": self.choice,
            "outcome": self.outcome.to_dict(),
        }


@dataclass(frozen=True)
class DecisionEscalated:
    """No protocol reached a choice: someone above (a manager, a human) must decide, for ``reason``.
    ``positions`` are the agents' last debate positions, ``outcome`` the last failed outcome."""

    decision_id: str
    reason: str
    positions: Mapping[str, str] = field(default_factory=dict)
    outcome: Outcome | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "action": "decision_escalated",
            "decision_id": self.decision_id,
            "reason": self.reason,
            "positions": dict(self.positions),
            "outcome": None if self.outcome is None else self.outcome.to_dict(),
        }


Action = OpenVoteRound | RequestContributions | DecisionReached | DecisionEscalated
