"""What the catalogue knows about one event or command type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.events.envelope import Payload

Kind = Literal["command", "event"]


@dataclass(frozen=True)
class EventSpec:
    """One catalogued type: its current version, payload model, topic, and the one service that owns it."""

    type: str
    version: int
    payload: type[Payload]
    topic: str
    kind: Kind
    owner: str
    description: str = ""
