"""Pure: how deep each event sits in its goal's causal tree."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from shared.events.causality import causal_forest
from shared.events.envelope import Envelope


def causal_depths(events: Sequence[Envelope[Any]]) -> dict[uuid.UUID, int]:
    """Depth of every event: 0 for one whose cause is not among ``events``, else its cause's depth + 1."""
    depths: dict[uuid.UUID, int] = {}
    stack = [(root, 0) for root in causal_forest(events)]
    while stack:
        node, depth = stack.pop()
        depths[node.envelope.event_id] = depth
        stack.extend((child, depth + 1) for child in node.children)
    return depths
