"""SQL over the projector's read models. Each listing fetches one row more than asked, to tell if a page follows."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from services.gateway.read_models import Connection

Row = dict[str, Any]
PLANNED = "planned"

_GOAL_COLUMNS = sql.SQL(
    "goal_id, goal_type, title, status, priority, submitted_by, method, plan_source, params, reason, "
    "tasks_total, tasks_succeeded, created_at, updated_at"
)
# A task row made by GoalPlanned alone has no status yet: it is shown as planned.
_TASK_COLUMNS = sql.SQL(
    "task_id, goal_id, operator, capability, tier, coalesce(status, 'planned') AS status, agent_id, attempt, "
    "coalesce(depends_on, '[]'::jsonb) AS depends_on, coalesce(requires_approval, false) AS requires_approval, "
    "output, error_class, error, tokens_used, duration_ms, created_at, updated_at"
)
_APPROVAL_COLUMNS = sql.SQL("goal_id, task_id, operator, status, approver, comment, requested_at, decided_at")


Condition = tuple[sql.Composable, tuple[Any, ...]]


def _equals(column: str, value: Any) -> Condition | None:
    """``column = value``, or no condition when the filter was not given."""
    return None if value is None else (sql.SQL("{} = %s").format(sql.Identifier(column)), (value,))


def _where(*conditions: Condition | None) -> Condition:
    """``WHERE a AND b ...`` of the given conditions, with their parameters in order."""
    used = [c for c in conditions if c is not None]
    if not used:
        return sql.SQL(""), ()
    clause = sql.SQL("WHERE ") + sql.SQL(" AND ").join(fragment for fragment, _ in used)
    return clause, tuple(p for _, params in used for p in params)


def _listing(conn: Connection, query: sql.Composable, params: tuple[Any, ...], limit: int, offset: int) -> list[Row]:
    """Run a listing for one page, plus one row that tells whether another page follows."""
    paged = query + sql.SQL(" LIMIT %s OFFSET %s")
    return conn.execute(paged, (*params, limit + 1, offset)).fetchall()


def list_goals(conn: Connection, *, status: str | None, limit: int, offset: int) -> list[Row]:
    """Goals, newest first, optionally in one status."""
    where, params = _where(_equals("status", status))
    query = sql.SQL("SELECT {} FROM goals {} ORDER BY created_at DESC NULLS LAST, goal_id").format(_GOAL_COLUMNS, where)
    return _listing(conn, query, params, limit, offset)


def goal(conn: Connection, goal_id: str) -> Row | None:
    """One goal's row, or None when the read model has none."""
    query = sql.SQL("SELECT {} FROM goals WHERE goal_id = %s").format(_GOAL_COLUMNS)
    return conn.execute(query, (goal_id,)).fetchone()


def goal_is_logged(conn: Connection, goal_id: str) -> bool:
    """Whether any event of the goal is in the log (its SubmitGoal may be there before GoalSubmitted)."""
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM events WHERE correlation_id = %s)", (goal_id,)).fetchone()
    return bool(row and row["exists"])


def goal_tasks(conn: Connection, goal_id: str) -> list[Row]:
    """The tasks of one goal, in the order they were created (planned ones last)."""
    query = sql.SQL(
        "SELECT {} FROM tasks WHERE goal_id = %s ORDER BY created_at NULLS LAST, updated_at, task_id"
    ).format(_TASK_COLUMNS)
    return conn.execute(query, (goal_id,)).fetchall()


def list_tasks(
    conn: Connection, *, status: str | None, goal_id: str | None, agent_id: str | None, limit: int, offset: int
) -> list[Row]:
    """Tasks, most recently changed first; status "planned" matches tasks that have no status yet."""
    # "planned" is tested as IS NULL rather than through coalesce, so other statuses can use the status index.
    status_test = (sql.SQL("status IS NULL"), ()) if status == PLANNED else _equals("status", status)
    where, params = _where(status_test, _equals("goal_id", goal_id), _equals("agent_id", agent_id))
    query = sql.SQL("SELECT {} FROM tasks {} ORDER BY updated_at DESC, task_id").format(_TASK_COLUMNS, where)
    return _listing(conn, query, params, limit, offset)


def approval(conn: Connection, goal_id: str, task_id: str) -> Row | None:
    """One gate of a goal, or None when no approval was requested for that task."""
    query = sql.SQL("SELECT {} FROM approvals WHERE goal_id = %s AND task_id = %s").format(_APPROVAL_COLUMNS)
    return conn.execute(query, (goal_id, task_id)).fetchone()


def pending_approvals(conn: Connection, goal_id: str) -> list[Row]:
    """The gates of one goal that wait for a decision."""
    query = sql.SQL(
        "SELECT {} FROM approvals WHERE goal_id = %s AND status = 'pending' ORDER BY requested_at, task_id"
    ).format(_APPROVAL_COLUMNS)
    return conn.execute(query, (goal_id,)).fetchall()


def list_approvals(conn: Connection, *, status: str | None, goal_id: str | None, limit: int, offset: int) -> list[Row]:
    """Approvals, longest waiting first."""
    where, params = _where(_equals("status", status), _equals("goal_id", goal_id))
    query = sql.SQL("SELECT {} FROM approvals {} ORDER BY requested_at NULLS LAST, goal_id, task_id").format(
        _APPROVAL_COLUMNS, where
    )
    return _listing(conn, query, params, limit, offset)


def goal_timeline(conn: Connection, goal_id: str, *, limit: int, offset: int) -> list[Row]:
    """The goal's events from the log, in the order they occurred (log position breaks ties)."""
    query = sql.SQL(
        'SELECT event_id, type, version, occurred_at, producer, stream_id, causation_id, topic, partition, "offset", '
        "body -> 'payload' AS payload FROM events WHERE correlation_id = %s "
        'ORDER BY occurred_at, topic, partition, "offset"'
    )
    return _listing(conn, query, (goal_id,), limit, offset)


def list_agents(conn: Connection, *, status: str | None, limit: int, offset: int) -> list[Row]:
    """Agents by id, with the drift monitor's latest stability when it has one."""
    status_test = None if status is None else (sql.SQL("a.status = %s"), (status,))
    where, params = _where(status_test)
    query = sql.SQL(
        "SELECT a.agent_id, a.role, a.capabilities, a.capacity, a.cost, a.model, a.status, a.in_flight, a.lease_waits, "
        "a.tokens_used, a.breaker_state, a.last_heartbeat, a.registered_at, a.updated_at, d.stability, "
        "d.status AS drift_status FROM agents a LEFT JOIN agent_drift d ON d.agent_id = a.agent_id {} "
        "ORDER BY a.agent_id"
    ).format(where)
    return _listing(conn, query, params, limit, offset)


def dead_letter(conn: Connection, dlq_offset: int) -> Row | None:
    """One dead letter's row (without its bytes), or None."""
    query = "SELECT dlq_offset, reason, source_topic FROM dead_letters WHERE dlq_offset = %s"
    return conn.execute(query, (dlq_offset,)).fetchone()


def list_dead_letters(conn: Connection, *, reason: str | None, limit: int, offset: int) -> list[Row]:
    """Dead letters, newest first."""
    where, params = _where(_equals("reason", reason))
    query = sql.SQL(
        "SELECT dlq_offset, reason, error, source_topic, source_partition, source_offset, consumer_group, failed_at, "
        "redriven, key, value FROM dead_letters {} ORDER BY dlq_offset DESC"
    ).format(where)
    return _listing(conn, query, params, limit, offset)


def select_one(conn: Connection) -> bool:
    """The readiness probe's query."""
    row = conn.execute("SELECT 1 AS one").fetchone()
    return bool(row and row["one"] == 1)
