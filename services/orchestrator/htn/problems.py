"""What is wrong with a domain: one located problem per mistake, so messages can name where it is."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DomainProblem:
    """A mistake in a domain, located by method or operator, step and field where they are known."""

    message: str
    method: str | None = None
    operator: str | None = None
    step: str | None = None
    field: str | None = None

    def describe(self, source: str | None = None) -> str:
        """One line: `source: method 'm': step 's': field 'f': message`, leaving out unknown parts."""
        parts = [source] if source else []
        if self.method is not None:
            parts.append(f"method '{self.method}'")
        if self.operator is not None:
            parts.append(f"operator '{self.operator}'")
        if self.step is not None:
            parts.append(f"step '{self.step}'")
        if self.field is not None:
            parts.append(f"field '{self.field}'")
        parts.append(self.message)
        return ": ".join(parts)


class InvalidDomain(ValueError):
    """Raised when a domain (or a domain file) has problems; carries all of them, not just the first."""

    def __init__(self, problems: tuple[DomainProblem, ...] | list[DomainProblem], source: str | None = None):
        self.problems = tuple(problems)
        self.source = source
        self.messages = tuple(problem.describe(source) for problem in self.problems)
        super().__init__("invalid domain:\n" + "\n".join(f"  - {message}" for message in self.messages))
