"""Episodic memory consolidation (EMC): periodically replace an agent's long history by a summary.

Every `interval` interactions the memory asks for a consolidation: an agent (never the control plane)
summarises the history so far. Applying the summary leaves the context as the summary plus the last
`keep_last` interactions it covered, plus anything recorded while the summary was being written.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_CONSOLIDATION_INTERVAL = 50
DEFAULT_KEEP_LAST = 20


@dataclass(frozen=True)
class MemoryEntry:
    """One interaction kept verbatim, numbered from 1 within the agent's session."""

    seq: int
    text: str


@dataclass(frozen=True)
class ConsolidationRequested:
    """Ask for a summary of `entries` (and the previous summary) covering interactions up to `through`."""

    agent_id: str
    through: int
    previous_summary: str | None
    entries: tuple[MemoryEntry, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"kind": "ConsolidationRequested", **asdict(self)}


@dataclass(frozen=True)
class MemoryContext:
    """What the agent sees of its past: an optional summary, then verbatim recent interactions."""

    summary: str | None
    entries: tuple[MemoryEntry, ...]


class EpisodicMemory:
    """One agent session's memory; serialisable with `to_dict` / `from_dict`."""

    def __init__(
        self,
        agent_id: str,
        interval: int = DEFAULT_CONSOLIDATION_INTERVAL,
        keep_last: int = DEFAULT_KEEP_LAST,
    ) -> None:
        if interval < 1 or keep_last < 0:
            raise ValueError("interval must be positive and keep_last non-negative")
        self.agent_id = agent_id
        self.interval = interval
        self.keep_last = keep_last
        self.interactions = 0
        self.summary: str | None = None
        self.summary_through = 0
        self.entries: list[MemoryEntry] = []

    def record(self, text: str) -> ConsolidationRequested | None:
        """Remember one interaction; every `interval`-th one returns a consolidation request."""
        self.interactions += 1
        self.entries.append(MemoryEntry(self.interactions, text))
        if self.interactions % self.interval != 0:
            return None
        return ConsolidationRequested(
            agent_id=self.agent_id,
            through=self.interactions,
            previous_summary=self.summary,
            entries=tuple(self.entries),
        )

    def apply_summary(self, through: int, summary: str) -> MemoryContext:
        """Install the summary of interactions up to `through`; return the new context.

        A summary older than (or as old as) the one already applied is ignored, so redelivered or
        out-of-order summaries cannot roll the memory back; so is one covering interactions this session
        never recorded (a late summary from before a reset).
        """
        if through <= self.summary_through or through > self.interactions:
            return self.context()
        self.summary = summary
        self.summary_through = through
        oldest_kept = through - self.keep_last
        self.entries = [entry for entry in self.entries if entry.seq > oldest_kept]
        return self.context()

    def context(self) -> MemoryContext:
        """The current context: summary (if any) and the interactions kept verbatim."""
        return MemoryContext(self.summary, tuple(self.entries))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "agent_id": self.agent_id,
            "interval": self.interval,
            "keep_last": self.keep_last,
            "interactions": self.interactions,
            "summary": self.summary,
            "summary_through": self.summary_through,
            "entries": [asdict(entry) for entry in self.entries],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EpisodicMemory:
        """Inverse of `to_dict`."""
        memory = cls(data["agent_id"], int(data["interval"]), int(data["keep_last"]))
        memory.interactions = int(data["interactions"])
        memory.summary = data.get("summary")
        memory.summary_through = int(data.get("summary_through", 0))
        memory.entries = [MemoryEntry(int(e["seq"]), e["text"]) for e in data.get("entries", [])]
        return memory
