"""When a method applies: a declarative test over a goal's facts and parameters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_MISSING = object()


@dataclass(frozen=True)
class Condition:
    """A conjunction of tests; the empty condition always holds.

    Declarative rather than a Python callable so that methods can come from YAML files and from learned
    decompositions, and can be stored as plain JSON.
    """

    facts: frozenset[str] = frozenset()
    """Facts that must all hold."""
    absent_facts: frozenset[str] = frozenset()
    """Facts that must not hold."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """Parameters that must be present and equal to the given value."""
    params_not: Mapping[str, Any] = field(default_factory=dict)
    """Parameters that must not equal the given value (a missing parameter counts as not equal)."""

    def holds(self, facts: frozenset[str], params: Mapping[str, Any]) -> bool:
        """True when every test passes for these facts and parameters."""
        return not self.failures(facts, params)

    def failures(self, facts: frozenset[str], params: Mapping[str, Any]) -> tuple[str, ...]:
        """Why the condition does not hold, one sentence per failed test (empty when it holds)."""
        reasons: list[str] = []
        reasons.extend(f"fact '{fact}' does not hold" for fact in sorted(self.facts - facts))
        reasons.extend(f"fact '{fact}' holds" for fact in sorted(self.absent_facts & facts))
        for name, expected in sorted(self.params.items()):
            actual = params.get(name, _MISSING)
            if actual is _MISSING:
                reasons.append(f"parameter '{name}' is missing (expected {expected!r})")
            elif actual != expected:
                reasons.append(f"parameter '{name}' is {actual!r}, not {expected!r}")
        for name, excluded in sorted(self.params_not.items()):
            if params.get(name, _MISSING) == excluded:
                reasons.append(f"parameter '{name}' is {excluded!r}")
        return tuple(reasons)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form, the same shape as a method's `when:` block in a domain file."""
        data: dict[str, Any] = {}
        if self.facts:
            data["facts"] = sorted(self.facts)
        if self.absent_facts:
            data["absent_facts"] = sorted(self.absent_facts)
        if self.params:
            data["params"] = dict(self.params)
        if self.params_not:
            data["params_not"] = dict(self.params_not)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Condition:
        """Inverse of `to_dict`."""
        return cls(
            facts=frozenset(data.get("facts", ())),
            absent_facts=frozenset(data.get("absent_facts", ())),
            params=dict(data.get("params", {})),
            params_not=dict(data.get("params_not", {})),
        )
