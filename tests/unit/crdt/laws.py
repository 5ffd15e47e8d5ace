"""Merge laws every state-based CRDT must satisfy, written once and checked per type."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Protocol, Self


class Mergeable(Protocol):
    def merge(self, other: Self) -> Self: ...

    def to_dict(self) -> dict[str, Any]: ...


def canonical(state: Mergeable) -> str:
    """A structural fingerprint: equal states serialise identically."""
    return json.dumps(state.to_dict(), sort_keys=True)


def assert_commutative(a: Mergeable, b: Mergeable) -> None:
    assert canonical(a.merge(b)) == canonical(b.merge(a))


def assert_associative(a: Mergeable, b: Mergeable, c: Mergeable) -> None:
    assert canonical(a.merge(b).merge(c)) == canonical(a.merge(b.merge(c)))


def assert_idempotent(a: Mergeable, b: Mergeable) -> None:
    assert canonical(a.merge(a)) == canonical(a)
    assert canonical(a.merge(b).merge(b)) == canonical(a.merge(b))


def assert_round_trips(state: Mergeable, from_dict: Callable[[dict[str, Any]], Mergeable]) -> None:
    encoded = json.loads(json.dumps(state.to_dict()))
    assert canonical(from_dict(encoded)) == canonical(state)


def merge_all(empty: Mergeable, deliveries: Sequence[Mergeable]) -> Mergeable:
    """What a replica holds after merging ``deliveries`` in the given order."""
    state = empty
    for delivered in deliveries:
        state = state.merge(delivered)
    return state
