"""An agent's slots: FIFO, and a queued assignment (waiting for file leases) may be passed over without a slot."""

from __future__ import annotations

import pytest

from services.agent_runtime.agent_slots import AgentSlots


def test_start_ready_fills_free_slots_in_arrival_order() -> None:
    slots: AgentSlots[str] = AgentSlots(2)
    for key in ("a", "b", "c"):
        slots.enqueue(key)
    assert slots.start_ready() == ["a", "b"] and slots.queued() == ["c"]
    slots.release("a")
    assert slots.start_ready() == ["c"]


def test_a_queued_assignment_may_be_passed_over_and_keeps_its_place() -> None:
    slots: AgentSlots[str] = AgentSlots(1)
    for key in ("waits", "free", "later"):
        slots.enqueue(key)
    assert slots.has_room and slots.start("free")
    assert slots.queued() == ["waits", "later"] and not slots.has_room
    assert not slots.start("waits"), "no slot free"
    slots.release("free")
    assert slots.start_ready() == ["waits"]
    with pytest.raises(ValueError, match="not queued"):
        slots.start("waits")


def test_an_assignment_settled_while_queued_leaves_the_queue() -> None:
    slots: AgentSlots[str] = AgentSlots(1)
    slots.enqueue("a")
    slots.enqueue("b")
    slots.release("b")
    slots.release("unknown")
    assert slots.queued() == ["a"] and slots.waiting == 1 and slots.in_flight == 0
