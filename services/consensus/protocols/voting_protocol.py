"""The shape every voting protocol has: a name and a pure function from votes to an outcome."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from services.consensus.protocols.outcome import Outcome
from services.consensus.protocols.vote import Vote


class VotingProtocol(Protocol):
    """Decides one round: ``decide`` must be pure and depend only on its arguments."""

    @property
    def name(self) -> str:
        """Protocol name as recorded in outcomes and audit trails."""
        ...

    def decide(self, votes: Iterable[Vote], electorate: Iterable[str]) -> Outcome:
        """The outcome of ``votes`` (one round) cast by members of ``electorate``."""
        ...
