"""Work handed to agents, auctions for it, and the blackboard agents share findings on."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shared.bus.topics import AGENTS_ASSIGNMENTS, AUCTIONS_EVENTS, BLACKBOARD_EVENTS
from shared.events.envelope import Payload
from shared.events.spec import EventSpec


class ExecuteTask(Payload):
    """An assignment addressed to one agent (keyed by agent id, so one runtime partition receives it)."""

    task_id: str
    goal_id: str
    agent_id: str
    attempt: int = Field(default=1, ge=1)
    operator: str
    capability: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float | None = None
    anchors: list[str] = Field(default_factory=list)


class TaskAnnounced(Payload):
    task_id: str
    goal_id: str
    operator: str
    capability: str
    window_s: float = Field(gt=0)


class BidPlaced(Payload):
    task_id: str
    goal_id: str
    agent_id: str
    cost: float = Field(ge=0)
    eta_s: float = Field(ge=0)


class AuctionClosed(Payload):
    """Delivered by the scheduler when an auction's bidding window ends."""

    task_id: str
    goal_id: str


class FindingPosted(Payload):
    goal_id: str
    task_id: str
    agent_id: str
    topic: str
    content: dict[str, Any] = Field(default_factory=dict)


SPECS: tuple[EventSpec, ...] = (
    EventSpec(
        "ExecuteTask",
        1,
        ExecuteTask,
        AGENTS_ASSIGNMENTS,
        "command",
        "agent-runtime",
        "Run this task (sent by the assigner to the chosen agent).",
    ),
    EventSpec(
        "TaskAnnounced",
        1,
        TaskAnnounced,
        AUCTIONS_EVENTS,
        "event",
        "assigner",
        "A task is open for bids until the window closes.",
    ),
    EventSpec("BidPlaced", 1, BidPlaced, AUCTIONS_EVENTS, "event", "agent-runtime", "An agent offers to do a task."),
    EventSpec(
        "AuctionClosed",
        1,
        AuctionClosed,
        AUCTIONS_EVENTS,
        "event",
        "assigner",
        "An auction's window ended; the assigner picks a winner.",
    ),
    EventSpec(
        "FindingPosted",
        1,
        FindingPosted,
        BLACKBOARD_EVENTS,
        "event",
        "agent-runtime",
        "A worker shares a finding with its peers on the blackboard.",
    ),
)
