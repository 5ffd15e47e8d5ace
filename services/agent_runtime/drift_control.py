"""How the runtime contains drift in the agents it hosts: session resets (after a reset request) and EMC.

A backend that keeps a session implements ``SessionControl``: ``reset_session`` starts a new session (fresh
context, no anchors) and ``apply_consolidation`` replaces its context with a summary plus the recent
interactions. Backends without sessions (stateless calls) have nothing to reset; the runtime still reports the
reset, so the drift monitor builds a new baseline and the assigner routes to the agent again.

The consolidation summary is written by the runtime's summarizer: extractive and deterministic (the previous
summary, then the first sentence of each older interaction, deduplicated, within a size limit), so a replay
writes the same summary.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from shared.events.catalogue.drift import (
    AgentReset,
    AgentResetRequested,
    ConsolidationApplied,
    ConsolidationRequested,
    MemoryEntryModel,
)

SUMMARY_MAX_CHARS = 2000
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


@runtime_checkable
class SessionControl(Protocol):
    """A backend whose agent has a session the runtime can restart or consolidate."""

    def reset_session(self) -> None:
        """Start a new session: the original behaviour, no context carried over."""
        ...

    def apply_consolidation(self, summary: str, kept: int) -> None:
        """Replace the context by ``summary`` plus the last ``kept`` interactions."""
        ...


def reset(backend: object, request: AgentResetRequested) -> AgentReset:
    """Restart the agent's session (when the backend has one) and say so."""
    if isinstance(backend, SessionControl):
        backend.reset_session()
    reason = f"stability {request.stability:.2f} below {request.threshold:g} at interaction {request.interaction}"
    if request.reason == "shift":
        reason = f"{request.component} drift shift persisting at interaction {request.interaction}"
    return AgentReset(agent_id=request.agent_id, reason=reason)


def summarise(previous: str | None, entries: Sequence[MemoryEntryModel], max_chars: int = SUMMARY_MAX_CHARS) -> str:
    """An extractive summary: the previous summary, then each entry's first sentence once, oldest first."""
    parts: list[str] = [previous] if previous else []
    seen: set[str] = set(parts)
    for entry in entries:
        first = _SENTENCE_END.split(entry.text.strip(), maxsplit=1)[0][:200]
        if first and first not in seen:
            seen.add(first)
            parts.append(first)
    return " ".join(parts)[:max_chars]


def consolidate(backend: object, request: ConsolidationRequested) -> ConsolidationApplied:
    """Summarise everything but the last ``keep_last`` interactions and install the summary in the agent."""
    older = [entry for entry in request.entries if entry.seq <= request.through - request.keep_last]
    summary = summarise(request.previous_summary, older)
    kept = min(request.keep_last, len(request.entries))
    if isinstance(backend, SessionControl):
        backend.apply_consolidation(summary, kept)
    return ConsolidationApplied(agent_id=request.agent_id, through=request.through, summary=summary, kept=kept)
