"""A goal's causal tree from its events: who caused whom, in the order things happened."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from shared.events.envelope import Envelope


@dataclass
class CausalNode:
    envelope: Envelope[Any]
    children: list[CausalNode] = field(default_factory=list)


def timeline(events: Iterable[Envelope[Any]]) -> list[Envelope[Any]]:
    """Events ordered by time (ties by id, so the order is stable), duplicates by event id removed."""
    unique = {e.event_id: e for e in events}
    return sorted(unique.values(), key=lambda e: (e.occurred_at, str(e.event_id)))


def causal_forest(events: Iterable[Envelope[Any]]) -> list[CausalNode]:
    """Roots are events whose cause is absent from the set (the goal's submission, external commands)."""
    ordered = timeline(events)
    nodes: dict[uuid.UUID, CausalNode] = {e.event_id: CausalNode(e) for e in ordered}
    roots: list[CausalNode] = []
    for event in ordered:
        parent = nodes.get(event.causation_id) if event.causation_id else None
        (parent.children if parent else roots).append(nodes[event.event_id])
    return roots


def render_forest(roots: list[CausalNode]) -> list[str]:
    """Indented lines, one per event: ``TaskAssigned  stream=...  id=...``."""
    lines: list[str] = []

    def walk(node: CausalNode, depth: int) -> None:
        e = node.envelope
        lines.append(f"{'  ' * depth}{'└─ ' if depth else ''}{e.type}  [{e.producer}]  {e.event_id}")
        for child in node.children:
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return lines
