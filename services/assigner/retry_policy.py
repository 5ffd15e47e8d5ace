"""When to retry a failed task, and after how long. The delay becomes a scheduled retry event: a stream
consumer never sleeps.

Attempts are numbered from 1 and `attempt` is the one that just failed, so with the exponential policy
(base 1 s, factor 2, 3 retries) attempts 1, 2, 3 failing are retried after 1 s, 2 s, 4 s and attempt 4
failing is final: 3 retries, 4 executions in all.

The adaptive policy backs off per error class:

| error class | retries | base   | why                                                              |
|-------------|---------|--------|------------------------------------------------------------------|
| timeout     | 3       | 2 s    | report figure; a slow agent often recovers                        |
| rate_limit  | 5       | 10 s   | report figure; limits lift with time, so wait long and often      |
| auth        | 0       |        | report figure; credentials do not fix themselves                  |
| crash       | 2       | 5 s    | the runtime restarts and replays the agent: give it time, but a   |
|             |         |        | task that keeps crashing agents is itself the likely cause        |
| invalid     | 1       | 1 s    | one resample may produce valid output; repeating more rarely does |
| budget      | 0       |        | spending more of an exhausted budget cannot succeed               |
| lock_conflict | 5     | 2 s    | another task holds the files; it ends within its timeout, so try  |
|             |         |        | again soon and often (not the agent's fault: no breaker failure)  |
| (other)     | 3       | 1 s    | the plain exponential default                                     |

All with factor 2 and, by default, +0..10% jitter so that agents freed by the same outage do not retry
in lockstep.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ERROR_CLASSES: tuple[str, ...] = ("timeout", "rate_limit", "auth", "crash", "invalid", "budget", "lock_conflict")
#: Error classes that say nothing about the agent: the task is retried, the agent's breaker is not charged.
NOT_AGENT_FAULTS: frozenset[str] = frozenset({"lock_conflict"})


@dataclass(frozen=True)
class Backoff:
    """Up to `max_retries` retries, the n-th after `base_s * factor ** (n - 1)` seconds."""

    max_retries: int
    base_s: float = 1.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.base_s < 0 or self.factor < 1:
            raise ValueError(f"invalid backoff {self}: need max_retries >= 0, base_s >= 0, factor >= 1")

    def delay_s(self, retry: int) -> float:
        """The delay before the `retry`-th retry (1-based), without jitter."""
        return self.base_s * self.factor ** (retry - 1)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"max_retries": self.max_retries, "base_s": self.base_s, "factor": self.factor}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Backoff:
        """Inverse of `to_dict`."""
        return cls(int(data["max_retries"]), float(data.get("base_s", 1.0)), float(data.get("factor", 2.0)))


NO_RETRY = Backoff(max_retries=0)

ADAPTIVE_BACKOFFS: Mapping[str, Backoff] = {
    "timeout": Backoff(3, 2.0),
    "rate_limit": Backoff(5, 10.0),
    "auth": NO_RETRY,
    "crash": Backoff(2, 5.0),
    "invalid": Backoff(1, 1.0),
    "budget": NO_RETRY,
    "lock_conflict": Backoff(5, 2.0),
}


@dataclass(frozen=True)
class RetryPolicy:
    """A default backoff, optional per-error-class backoffs, and a jitter ratio (0.1 = up to +10%)."""

    name: str
    default: Backoff = field(default_factory=lambda: Backoff(3))
    per_error_class: Mapping[str, Backoff] = field(default_factory=dict)
    jitter_ratio: float = 0.0

    def __post_init__(self) -> None:
        if self.jitter_ratio < 0:
            raise ValueError(f"jitter_ratio must not be negative, got {self.jitter_ratio}")

    def backoff_for(self, error_class: str) -> Backoff:
        """The backoff that applies to `error_class`."""
        return self.per_error_class.get(error_class, self.default)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "name": self.name,
            "default": self.default.to_dict(),
            "per_error_class": {key: value.to_dict() for key, value in sorted(self.per_error_class.items())},
            "jitter_ratio": self.jitter_ratio,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RetryPolicy:
        """Inverse of `to_dict`."""
        return cls(
            name=data["name"],
            default=Backoff.from_dict(data["default"]),
            per_error_class={key: Backoff.from_dict(v) for key, v in data.get("per_error_class", {}).items()},
            jitter_ratio=float(data.get("jitter_ratio", 0.0)),
        )


def exponential_policy(max_retries: int = 3, base_s: float = 1.0, factor: float = 2.0) -> RetryPolicy:
    """The same backoff for every error class, no jitter: 1 s, 2 s, 4 s by default."""
    return RetryPolicy("exponential", Backoff(max_retries, base_s, factor))


def jittered_policy(
    max_retries: int = 3, base_s: float = 1.0, factor: float = 2.0, jitter_ratio: float = 0.1
) -> RetryPolicy:
    """Exponential backoff plus a random 0..`jitter_ratio` of each delay."""
    return RetryPolicy("jittered", Backoff(max_retries, base_s, factor), jitter_ratio=jitter_ratio)


def adaptive_policy(jitter_ratio: float = 0.1, overrides: Mapping[str, Backoff] | None = None) -> RetryPolicy:
    """Backoff by error class (see the module table), optionally overriding some classes."""
    return RetryPolicy("adaptive", Backoff(3), {**ADAPTIVE_BACKOFFS, **(overrides or {})}, jitter_ratio=jitter_ratio)


@dataclass(frozen=True)
class RetryDecision:
    """Whether to retry, after how many seconds, and a sentence saying why (for the event and logs)."""

    retry: bool
    delay_s: float
    reason: str


def next_retry(
    policy: RetryPolicy, error_class: str, attempt: int, rand: float | random.Random | None = None
) -> RetryDecision:
    """Decide what follows the failure of `attempt` (1-based) with `error_class`.

    `rand` supplies the jitter: a float in [0, 1) or a `random.Random`; it is required when the policy
    has jitter, so that the caller controls randomness (replays must schedule the same delay).
    """
    if attempt < 1:
        raise ValueError(f"attempt numbers start at 1, got {attempt}")
    backoff = policy.backoff_for(error_class)
    if backoff.max_retries == 0:
        return RetryDecision(False, 0.0, f"{error_class}: not retryable under the {policy.name} policy")
    if attempt > backoff.max_retries:
        return RetryDecision(False, 0.0, f"{error_class}: all {backoff.max_retries} retries used")
    delay = backoff.delay_s(attempt)
    if policy.jitter_ratio:
        delay += delay * policy.jitter_ratio * _unit(rand)
    reason = f"{error_class}: retry {attempt} of {backoff.max_retries} after {delay:.3f}s"
    return RetryDecision(True, delay, reason)


def _unit(rand: float | random.Random | None) -> float:
    if rand is None:
        raise ValueError("this policy has jitter: pass rand (a float in [0, 1) or a random.Random)")
    value = rand.random() if isinstance(rand, random.Random) else float(rand)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"rand must be in [0, 1), got {value}")
    return value
