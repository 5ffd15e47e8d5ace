"""An agent's cumulative token budget (SEED-NOTES 7: token budgets per agent)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class TokenBudget:
    """Tokens used so far against an optional limit (None: unlimited)."""

    limit: int | None = None
    used: int = 0

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise ValueError("limit must be positive or None")
        if self.used < 0:
            raise ValueError("used must be non-negative")

    @property
    def remaining(self) -> int | None:
        """Tokens left (never negative), or None when unlimited."""
        return None if self.limit is None else max(self.limit - self.used, 0)

    @property
    def exhausted(self) -> bool:
        """No token is left: a new task cannot run at all."""
        return self.limit is not None and self.used >= self.limit

    def would_exceed(self, tokens: int) -> bool:
        """Whether spending ``tokens`` more would go over the limit."""
        return self.limit is not None and self.used + tokens > self.limit

    def charge(self, tokens: int) -> TokenBudget:
        """The budget after spending ``tokens`` (spent tokens count even past the limit: they were used)."""
        if tokens < 0:
            raise ValueError("tokens must be non-negative")
        return replace(self, used=self.used + tokens)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form of the usage (the limit comes from configuration, so it can change)."""
        return {"tokens_used": self.used}

    @classmethod
    def restored(cls, limit: int | None, data: Mapping[str, Any] | None) -> TokenBudget:
        """A budget with ``limit`` and the usage saved by ``to_dict`` (none saved: nothing used)."""
        return cls(limit, int(data["tokens_used"]) if data else 0)
