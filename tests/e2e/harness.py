"""What an end-to-end test holds: the running stack, the event tap, the read models, and waiting with a deadline."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from psycopg.rows import dict_row

from shared.bus.producer import EventProducer
from shared.bus.topics import GOALS_COMMANDS
from shared.db.connection import connect
from shared.events.catalogue.goals import SubmitGoal
from shared.events.codec import new_event
from shared.events.envelope import Envelope
from shared.infra.background_process import log_tail
from shared.infra.stack import LocalStack
from shared.settings import Settings
from tests.e2e.event_tap import EventTap
from tests.e2e.fleet import E2EFleet

T = TypeVar("T")
FINISHED = ("completed", "failed", "cancelled")
POLL_S = 0.25


@dataclass
class EndToEnd:
    stack: LocalStack
    settings: Settings
    database_url: str
    tap: EventTap
    fleet: E2EFleet
    producer: EventProducer

    # -- commands ---------------------------------------------------------------------------------------------
    def submit(self, goal_type: str, params: dict[str, Any] | None = None, title: str = "") -> str:
        goal_id = f"e2e-{goal_type}-{uuid.uuid4().hex[:8]}"
        command = SubmitGoal(goal_id=goal_id, goal_type=goal_type, title=title, params=params or {})
        self.producer.publish(
            new_event(command, producer="e2e-tests", stream_id=goal_id, correlation_id=goal_id), topic=GOALS_COMMANDS
        )
        self.producer.flush()
        return goal_id

    # -- read models ------------------------------------------------------------------------------------------
    def query(self, sql: str, *args: object) -> list[dict[str, Any]]:
        with connect(self.database_url) as conn, conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(sql, args).fetchall()

    def goal(self, goal_id: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM goals WHERE goal_id = %s", goal_id)
        return rows[0] if rows else None

    def agent(self, agent_id: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM agents WHERE agent_id = %s", agent_id)
        return rows[0] if rows else None

    # -- waiting ----------------------------------------------------------------------------------------------
    def wait_until(self, what: str, check: Callable[[], T | None], timeout_s: float) -> T:
        """Poll ``check`` until it returns something truthy; a service that died fails the test with its log."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.stack.check()
            found = check()
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s:g}s waiting for {what}")
            time.sleep(POLL_S)

    def wait_finished(self, goal_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
        """The goal's read-model row once it is finished (completed, failed or cancelled)."""

        def finished() -> dict[str, Any] | None:
            row = self.goal(goal_id)
            return row if row and row["status"] in FINISHED else None

        return self.wait_until(f"goal {goal_id} to finish", finished, timeout_s)

    def wait_completed(self, goal_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
        """The completed goal's read-model row, once this test's tap has read the goal's events too."""
        row = self.wait_finished(goal_id, timeout_s)
        assert row["status"] == "completed", f"goal {goal_id} ended {row['status']}: {row['reason']}"
        assert row["tasks_total"] and row["tasks_succeeded"] == row["tasks_total"], row
        self.wait_tap_caught_up(goal_id, row["tasks_succeeded"])
        return row

    def wait_tap_caught_up(self, goal_id: str, tasks_succeeded: int, timeout_s: float = 30.0) -> None:
        """The read model can show a goal completed before the tap has read its last events (the projector and
        the tap consume on their own). Wait for its GoalCompleted and its tasks' successes in the tap: each is the
        goal's last event on its topic partition, so the goal's events before them have been read too."""

        def caught_up() -> bool | None:
            done = self.tap.events(goal_id=goal_id, types=("GoalCompleted",))
            succeeded = self.tap.events(goal_id=goal_id, types=("TaskSucceeded",))
            return (bool(done) and len({e.payload.task_id for e in succeeded}) >= tasks_succeeded) or None

        self.wait_until(f"the tap to read goal {goal_id}'s completion and task successes", caught_up, timeout_s)

    def wait_event(
        self,
        what: str,
        *,
        goal_id: str | None = None,
        types: Iterable[str] = (),
        where: Callable[[Envelope[Any]], bool] | None = None,
        timeout_s: float = 30.0,
    ) -> Envelope[Any]:
        """The first event matching the filters (see ``EventTap.events``)."""
        wanted = tuple(types)

        def first() -> Envelope[Any] | None:
            found = self.tap.events(goal_id=goal_id, types=wanted, where=where)
            return found[0] if found else None

        return self.wait_until(what, first, timeout_s)

    def types_of(self, goal_id: str) -> list[str]:
        return [event.type for event in self.tap.events(goal_id=goal_id)]

    # -- diagnostics ------------------------------------------------------------------------------------------
    def recent_events(self, count: int = 60) -> str:
        """The last events seen, heartbeats left out, one line each."""
        events = self.tap.events(where=lambda e: e.type != "AgentHeartbeat")[-count:]
        return "\n".join(f"{e.occurred_at:%H:%M:%S.%f} {e.type} {str(e.payload)[:160]}" for e in events)

    def log_tails(self, lines: int = 40) -> str:
        parts = []
        for name in self.stack.names():
            path: Path = self.stack.log_dir / f"{name}.log"
            parts.append(f"----- {name} ({path}) -----\n{log_tail(path, lines)}")
        return "\n".join(parts)
