"""Market-based assignment, the agent's side: which hosted agents bid on an announced task, and what they offer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.events.catalogue.work import BidPlaced, TaskAnnounced


@dataclass(frozen=True)
class Bidder:
    """What an auction needs to know of one hosted agent at the moment of an announcement."""

    agent_id: str
    capabilities: frozenset[str]
    free_slots: int
    cost: float
    eta_s: float
    bids: bool = True


def bids_for(
    announcement: TaskAnnounced, announced_at: float, now: float, bidders: Iterable[Bidder]
) -> list[BidPlaced]:
    """Bids from the agents that bid, have the capability and a free slot, while the window is open.

    An announcement read after its window closed (a replay, a runtime catching up) gets no bids: the
    auction is decided already.
    """
    if now > announced_at + announcement.window_s:
        return []
    return [
        BidPlaced(
            task_id=announcement.task_id,
            goal_id=announcement.goal_id,
            agent_id=bidder.agent_id,
            cost=bidder.cost,
            eta_s=bidder.eta_s,
        )
        for bidder in bidders
        if bidder.bids and bidder.free_slots > 0 and announcement.capability in bidder.capabilities
    ]
