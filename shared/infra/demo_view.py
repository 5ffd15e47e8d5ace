"""What the demo shows: the read models of its goals and the fleet, as rich tables (live progress and summary).

Everything here is read from Postgres, i.e. from what the projector built out of the Kafka topics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from rich.console import Group
from rich.table import Table

TERMINAL = ("completed", "failed", "cancelled")
STATUS_STYLE = {"completed": "green", "failed": "red", "cancelled": "yellow", "planned": "cyan", "submitted": "cyan"}
BREAKER_STYLE = {"closed": "green", "open": "bold red", "half_open": "yellow"}


@dataclass(frozen=True)
class GoalRow:
    goal_id: str
    goal_type: str
    status: str
    method: str
    plan_source: str
    tasks_done: int
    tasks_total: int
    waiting_approval: int
    reason: str
    created_at: datetime | None
    updated_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    @property
    def seconds(self) -> float | None:
        if self.created_at is None or self.updated_at is None:
            return None
        return (self.updated_at - self.created_at).total_seconds()


@dataclass(frozen=True)
class AgentRow:
    agent_id: str
    role: str
    status: str
    in_flight: int
    breaker_state: str
    succeeded: int
    failed: int
    tokens_used: int


@dataclass(frozen=True)
class Snapshot:
    goals: list[GoalRow]
    agents: list[AgentRow]
    pending_approvals: list[tuple[str, str]]
    events: int
    dead_letters: int
    breaker_openings: int

    def all_finished(self, expected: int) -> bool:
        return len(self.goals) == expected and all(g.finished for g in self.goals)

    def all_completed(self, expected: int) -> bool:
        return len(self.goals) == expected and all(g.status == "completed" for g in self.goals)


def read_snapshot(conn: psycopg.Connection, goal_ids: Sequence[str]) -> Snapshot:
    ids = list(goal_ids)
    goals = [
        GoalRow(*row)
        for row in conn.execute(
            """
            SELECT g.goal_id, g.goal_type, g.status, coalesce(g.method, ''), coalesce(g.plan_source, ''),
                   (SELECT count(*) FROM tasks t WHERE t.goal_id = g.goal_id AND t.status = 'succeeded'),
                   (SELECT count(*) FROM tasks t WHERE t.goal_id = g.goal_id),
                   (SELECT count(*) FROM approvals a WHERE a.goal_id = g.goal_id AND a.status = 'pending'),
                   coalesce(g.reason, ''), g.created_at, g.updated_at
            FROM goals g WHERE g.goal_id = ANY(%s) ORDER BY g.created_at, g.goal_id
            """,
            (ids,),
        )
    ]
    agents = [
        AgentRow(*row)
        for row in conn.execute(
            """
            SELECT a.agent_id, coalesce(a.role, ''), coalesce(a.status, ''), coalesce(a.in_flight, 0),
                   coalesce(a.breaker_state, 'closed'),
                   (SELECT count(*) FROM events e WHERE e.type = 'TaskSucceeded'
                      AND e.body->'payload'->>'agent_id' = a.agent_id AND e.correlation_id = ANY(%s)),
                   (SELECT count(*) FROM events e WHERE e.type = 'TaskFailed'
                      AND e.body->'payload'->>'agent_id' = a.agent_id AND e.correlation_id = ANY(%s)),
                   coalesce(a.tokens_used, 0)
            FROM agents a
            WHERE a.status <> 'deregistered' AND a.last_heartbeat > now() - interval '30 seconds'
            ORDER BY a.agent_id
            """,
            (ids, ids),
        )
    ]
    pending = conn.execute(
        "SELECT goal_id, task_id FROM approvals WHERE status = 'pending' AND goal_id = ANY(%s)", (ids,)
    ).fetchall()
    events = conn.execute("SELECT count(*) FROM events WHERE correlation_id = ANY(%s)", (ids,)).fetchone()[0]
    dead_letters = conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
    openings = conn.execute(
        "SELECT count(*) FROM events WHERE type = 'BreakerStateChanged' AND body->'payload'->>'state' = 'open'"
    ).fetchone()[0]
    return Snapshot(goals, agents, [(g, t) for g, t in pending], events, dead_letters, openings)


def goals_table(snapshot: Snapshot, *, title: str = "Goals") -> Table:
    table = Table(title=title, title_justify="left", expand=False)
    for column in ("goal", "type", "plan", "status", "tasks", "time"):
        table.add_column(column, justify="right" if column in ("tasks", "time") else "left")
    for g in snapshot.goals:
        plan = f"{g.method} ({g.plan_source})" if g.method else "-"
        status = f"[{STATUS_STYLE.get(g.status, 'white')}]{g.status}[/]"
        if g.waiting_approval:
            status += " [magenta](awaiting approval)[/]"
        if g.reason and g.status != "completed":
            status += f" [dim]{g.reason[:60]}[/]"
        seconds = f"{g.seconds:.1f}s" if g.seconds is not None else ""
        table.add_row(g.goal_id, g.goal_type, plan, status, f"{g.tasks_done}/{g.tasks_total}", seconds)
    return table


def agents_table(snapshot: Snapshot) -> Table:
    table = Table(title="Agents", title_justify="left")
    for column in ("agent", "role", "status", "running", "breaker", "succeeded", "failed", "tokens"):
        table.add_column(column, justify="right" if column in ("running", "succeeded", "failed", "tokens") else "left")
    for a in snapshot.agents:
        breaker = f"[{BREAKER_STYLE.get(a.breaker_state, 'white')}]{a.breaker_state}[/]"
        table.add_row(
            a.agent_id, a.role, a.status, str(a.in_flight), breaker, str(a.succeeded), str(a.failed), str(a.tokens_used)
        )
    return table


def progress_line(snapshot: Snapshot, expected: int, elapsed_s: float) -> str:
    """One line of progress: the live view's header, and what a log (no terminal) gets instead of the view."""
    done = sum(g.finished for g in snapshot.goals)
    return (
        f"[bold]{done}/{expected} goals finished[/]  ·  {snapshot.events} events projected  ·  "
        f"{snapshot.dead_letters} dead letters  ·  breaker openings: {snapshot.breaker_openings}  ·  {elapsed_s:.0f}s"
    )


def progress_view(snapshot: Snapshot, expected: int, elapsed_s: float) -> Group:
    return Group(progress_line(snapshot, expected, elapsed_s), goals_table(snapshot), agents_table(snapshot))
