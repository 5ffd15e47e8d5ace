"""Failures in a row per name, for retrying something a bounded number of times (pure).

A replica's refused publishes and the agent runtime's failed counter updates both follow one rule: keep
retrying what failed while the others go on, and after ``limit`` failures in a row give it up (the caller says
so in an error) rather than retry it forever. A success starts the count over.
"""

from __future__ import annotations


class FailureStreaks:
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        self.limit = limit
        self._streaks: dict[str, int] = {}

    def failed(self, name: str) -> tuple[bool, int]:
        """Count one more failure of ``name`` in a row: (retry it?, its failures in a row so far).

        At ``limit`` the answer is not to retry, and the count starts over for whatever ``name`` does next."""
        streak = self._streaks.get(name, 0) + 1
        if streak < self.limit:
            self._streaks[name] = streak
            return True, streak
        self._streaks.pop(name, None)
        return False, streak

    def succeeded(self, name: str) -> None:
        self._streaks.pop(name, None)

    def __len__(self) -> int:
        """Names with failures counted."""
        return len(self._streaks)
