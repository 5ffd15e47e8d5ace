"""Duplicate deliveries and reordered retries: a segment of every command and event topic the services react
to, read back while goals and sagas are under way, is published again into the same topics and partitions with
the same bytes and headers, once in order and once in reverse order (late retries overtaking newer records).
Nothing may run or count twice."""

from __future__ import annotations

import pytest

from shared.bus.topics import (
    AGENTS_ASSIGNMENTS,
    GOALS_COMMANDS,
    GOALS_EVENTS,
    SAGAS_COMMANDS,
    SAGAS_EVENTS,
    SCHEDULER_DELAYED,
    TASKS_EVENTS,
)
from tests.faults.conftest import FaultRow
from tests.faults.harness import FaultStack
from tests.faults.invariants import check_all
from tests.faults.records import positions, read_segment, republish
from tests.faults.workload import wait_until

pytestmark = pytest.mark.integration
REPLAYED_TOPICS = (
    GOALS_COMMANDS,
    GOALS_EVENTS,
    TASKS_EVENTS,
    SAGAS_COMMANDS,
    SAGAS_EVENTS,
    AGENTS_ASSIGNMENTS,
    SCHEDULER_DELAYED,
)


@pytest.mark.timeout(240, func_only=True)
@pytest.mark.parametrize("order", ["in order", "reversed"])
def test_a_replayed_segment_runs_and_counts_nothing_twice(faults: FaultStack, fault: FaultRow, order: str) -> None:
    fault.fault = f"duplicate segment replayed {order}"
    starts = positions(faults.settings, REPLAYED_TOPICS)
    workload = faults.workload()
    workload.burst(faults.producer, goals=4, sagas=4)
    # Mid-way: some goals have finished tasks, none is done yet, when the segment so far is delivered again.
    wait_until(
        "the workload to be half-way",
        lambda: len(workload.unfinished(faults.read_models)) <= 6,
        90,
        alive=faults.alive,
    )
    segment = read_segment(faults.settings, starts)
    replayed = republish(faults.settings, segment, reverse=order == "reversed")
    fault.detail = f"{replayed} records replayed; " + check_all(faults, workload)
