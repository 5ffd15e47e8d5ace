"""Retry policy of a saga step or compensation: how many attempts, and exponential backoff between them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RetryPolicy:
    """`max_attempts` attempts in all; after failed attempt k the next waits
    `min(base * multiplier ** (k - 1), max_delay) * (1 + jitter_ratio * jitter)` seconds (1 s, 2 s, 4 s ...).
    """

    max_attempts: int = 3
    base_delay_seconds: float = 1.0
    multiplier: float = 2.0
    max_delay_seconds: float = 300.0
    jitter_ratio: float = 0.1

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay_seconds < 0 or self.max_delay_seconds < 0:
            raise ValueError("delays must be non-negative")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1")
        if not 0 <= self.jitter_ratio <= 1:
            raise ValueError("jitter_ratio must be within [0, 1]")

    def delay(self, failed_attempt: int, jitter: float = 0.0) -> float:
        """Seconds to wait after attempt `failed_attempt` failed; `jitter` in [0, 1) comes from the caller."""
        if failed_attempt < 1:
            raise ValueError("attempts are numbered from 1")
        if not 0.0 <= jitter < 1.0:
            raise ValueError("jitter must be within [0, 1)")
        exponential = self.base_delay_seconds * self.multiplier ** (failed_attempt - 1)
        return min(exponential, self.max_delay_seconds) * (1.0 + self.jitter_ratio * jitter)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RetryPolicy:
        """Inverse of `to_dict`; missing fields take their defaults."""
        return cls(**data)
