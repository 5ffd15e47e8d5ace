"""Done means: an opened breaker re-routes work to a backup and closes again after successful probes.

The flaky agent and its backup are the only agents with the `translate` capability, and least-loaded ties go
to the flaky one (its id sorts first). While the flag file exists the flaky agent crashes, so one goal after
another fails on it first (each retry lands on the backup) until `BREAKER_FAILURE_THRESHOLD` consecutive
failures open its breaker. The next goal goes straight to the backup *because* the breaker is open
(`backup_for`). Once the flag is gone and the open timeout has passed, probes reach the flaky agent again,
succeed, and the breaker closes.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from shared.events.envelope import Envelope
from tests.e2e.fleet import LOCALIZE_GOAL
from tests.e2e.harness import EndToEnd
from tests.e2e.knobs import BREAKER_FAILURE_THRESHOLD, BREAKER_OPEN_TIMEOUT_S

pytestmark = pytest.mark.integration
MAX_GOALS_PER_PHASE = 6


def breaker_changes(e2e: EndToEnd, agent_id: str) -> list[tuple[str, str]]:
    changes = e2e.tap.events(types=["BreakerStateChanged"], where=lambda e: e.payload.agent_id == agent_id)
    return [(e.payload.previous, e.payload.state) for e in changes]


def assignments(e2e: EndToEnd, goal_ids: list[str]) -> list[Envelope[Any]]:
    return [a for goal_id in goal_ids for a in e2e.tap.events(goal_id=goal_id, types=["TaskAssigned"])]


def localize_until(e2e: EndToEnd, done: Any, why: str) -> list[str]:
    """Localize goals one after another, each to completion, until ``done()``."""
    goals: list[str] = []
    while not done():
        assert len(goals) < MAX_GOALS_PER_PHASE, f"{why}: not after {len(goals)} goals"
        goals.append(e2e.submit(LOCALIZE_GOAL, title=why))
        e2e.wait_completed(goals[-1])
    return goals


@pytest.mark.timeout(150, func_only=True)
def test_an_open_breaker_reroutes_work_and_closes_after_probes(e2e: EndToEnd) -> None:
    flaky, backup = e2e.fleet.flaky, e2e.fleet.backup
    e2e.fleet.flaky_flag.touch()
    try:
        failing = localize_until(e2e, lambda: ("closed", "open") in breaker_changes(e2e, flaky), "open the breaker")
        rerouted = e2e.submit(LOCALIZE_GOAL, title="while the breaker is open")
        e2e.wait_completed(rerouted)
    finally:
        e2e.fleet.flaky_flag.unlink()

    failures = [f for goal_id in failing for f in e2e.tap.events(goal_id=goal_id, types=["TaskFailed"])]
    assert [(f.payload.agent_id, f.payload.error_class) for f in failures] == [
        (flaky, "crash")
    ] * BREAKER_FAILURE_THRESHOLD
    successes = [s for goal_id in failing for s in e2e.tap.events(goal_id=goal_id, types=["TaskSucceeded"])]
    assert {s.payload.agent_id for s in successes} == {backup}, "every failed task was finished by the backup"
    opened = e2e.tap.events(types=["BreakerStateChanged"], where=lambda e: e.payload.agent_id == flaky)[0]
    [while_open] = assignments(e2e, [rerouted])
    assert (while_open.payload.agent_id, while_open.payload.backup_for) == (backup, flaky)
    assert (while_open.occurred_at - opened.occurred_at).total_seconds() < BREAKER_OPEN_TIMEOUT_S

    time.sleep(max(0.0, opened.occurred_at.timestamp() + BREAKER_OPEN_TIMEOUT_S + 0.5 - time.time()))
    probes = localize_until(e2e, lambda: ("half_open", "closed") in breaker_changes(e2e, flaky), "close the breaker")

    assert breaker_changes(e2e, flaky) == [("closed", "open"), ("half_open", "closed")]
    assert [a.payload.agent_id for a in assignments(e2e, probes)].count(flaky) >= 2
    e2e.wait_until(
        "the agents read model to show the closed breaker",
        lambda: (e2e.agent(flaky) or {}).get("breaker_state") == "closed",
        15,
    )
