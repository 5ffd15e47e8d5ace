"""The shared-state read models have a rebuild of their own: `architect projections rebuild` empties them and
replays the CRDT topic, so rows lost or damaged come back equal to the merged state of every replica."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable

import pytest

from services.projector.crdt_rebuild import rebuild_shared_state
from shared.crdt import fleet_state
from shared.crdt.replica import Replica
from shared.db.connection import connect
from shared.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_rebuild_replays_counters_in_flight_and_sessions_into_empty_tables(
    settings: Settings, new_database: Callable[[], str]
) -> None:
    tag = uuid.uuid4().hex[:8]
    agent = f"rebuilt-{tag}"
    completed, flying = fleet_state.completed_counter("agent", agent), fleet_state.in_flight_counter(agent)
    with Replica(settings, f"rt-a-{tag}") as a, Replica(settings, f"rt-b-{tag}") as b:
        a.update(fleet_state.SESSIONS, lambda s: fleet_state.session_started(s, agent, f"rt-a/{agent}/1000"))
        for task in ("t1", "t2", "t1"):  # t1 reported twice: counted once
            a.update(completed, lambda c, t=task: fleet_state.incremented(c, a.replica_id, key=t))
        b.wait_until(completed, lambda c: c if c.value == 2 else None, 60)
        b.update(completed, lambda c: fleet_state.incremented(c, b.replica_id, key="t1"))  # retried elsewhere
        b.update(completed, lambda c: fleet_state.incremented(c, b.replica_id, key="t3"))
        for key in ("t3/1", "t4/1"):
            b.update(flying, lambda c, k=key: fleet_state.attempt_started(c, b.replica_id, k))
        b.update(flying, lambda c: fleet_state.attempt_ended(c, b.replica_id, "t3/1"))
        b.update(flying, lambda c: fleet_state.attempt_ended(c, b.replica_id, "t9/1"))  # never started: ignored

    url = new_database()
    report = rebuild_shared_state(settings, url)

    assert report.records >= 9 and report.objects >= 3
    with connect(url) as conn:
        assert conn.execute("SELECT completed FROM task_counters WHERE name = %s", (agent,)).fetchone() == (3,)
        row = conn.execute("SELECT in_flight, started, ended FROM tasks_in_flight WHERE agent_id = %s", (agent,))
        assert row.fetchone() == (1, 2, 1)
        assert conn.execute("SELECT runtimes FROM active_sessions WHERE agent_id = %s", (agent,)).fetchone() == (
            ["rt-a"],
        )
        conn.execute("DELETE FROM task_counters WHERE name = %s", (agent,))
        conn.execute("UPDATE tasks_in_flight SET in_flight = 99 WHERE agent_id = %s", (agent,))
        conn.commit()

    env = os.environ.copy() | {
        "ARCHITECT_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "DATABASE_URL": url,
    }
    result = subprocess.run(
        [sys.executable, "-m", "shared.cli.main", "projections", "rebuild"],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "shared state" in result.stdout and "CRDT record(s)" in result.stdout
    with connect(url) as conn:
        assert conn.execute("SELECT completed FROM task_counters WHERE name = %s", (agent,)).fetchone() == (3,)
        row = conn.execute("SELECT in_flight FROM tasks_in_flight WHERE agent_id = %s", (agent,))
        assert row.fetchone() == (1,)
