"""What must hold after every fault, checked against the topics, the execution log and the read models.

1. Every goal and saga ended, and as it should (goals completed with every task succeeded; sagas completed,
   or compensated when asked to fail).
2. No task outcome applied twice: the agents ran each (task, attempt) at most once, and each task, saga step,
   compensation, goal and saga has at most one outcome event (events re-published with the same id are one).
3. No event missing: the event log in Postgres holds exactly the valid events on the event topics.
4. The read models equal a fresh rebuild (``services.projector.rebuild``) into another database, replayed to
   the positions the live projector had reached when its models were read (one consistent cut).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import psycopg

from services.projector.projections import TABLES
from services.projector.rebuild import rebuild
from services.projector.store import PROJECTION
from shared.bus.reader import read_to_end
from shared.bus.topics import EVENT_TOPICS
from shared.db.connection import connect
from shared.events.codec import DecodeError, decode
from tests.faults.fleet import GOAL_TASKS
from tests.faults.harness import FaultStack
from tests.faults.workload import Workload, wait_until

Snapshot = dict[str, list[tuple[Any, ...]]]
OUTCOME_KEYS = {
    "TaskSucceeded": lambda p: p.task_id,
    "SagaStepSucceeded": lambda p: (p.saga_id, p.step_index),
    "CompensationSucceeded": lambda p: (p.saga_id, p.step_index),
    "GoalCompleted": lambda p: p.goal_id,
    "GoalFailed": lambda p: p.goal_id,
    "SagaCompleted": lambda p: p.saga_id,
    "SagaCompensated": lambda p: p.saga_id,
    "SagaFailed": lambda p: p.saga_id,
}


def check_all(faults: FaultStack, workload: Workload, *, finish_timeout_s: float = 150.0) -> str:
    """Run every check; returns a one-line summary for the fault table."""
    faults.wait_finished(workload, finish_timeout_s)
    wrong = workload.wrong_outcomes(faults.read_models)
    assert not wrong, "goals or sagas ended wrongly:\n" + "\n".join(wrong)
    events = valid_events(faults)
    outcomes = check_nothing_applied_twice(faults, workload, events)
    logged = check_no_event_missing(faults, set(events))
    check_read_models_equal_a_rebuild(faults)
    return (
        f"{len(workload.goals)} goals, {len(workload.sagas)} sagas ended as expected; {outcomes} outcomes once; "
        f"{logged} events logged; rebuild equal"
    )


def valid_events(faults: FaultStack) -> dict[str, Any]:
    """Every valid event on the event topics by id (an event re-published with its id counts once)."""
    found: dict[str, Any] = {}
    for record in read_to_end(faults.settings, EVENT_TOPICS):
        try:
            event = decode(record.value, record.key, max_bytes=faults.settings.max_event_bytes)
        except DecodeError:
            continue
        found.setdefault(str(event.event_id), event)
    return found


def executions(faults: FaultStack, ids: set[str]) -> list[dict[str, Any]]:
    if not faults.execution_log.exists():
        return []
    lines = [json.loads(line) for line in faults.execution_log.read_text().splitlines() if line.strip()]
    return [line for line in lines if line["saga_id"] in ids]


def check_nothing_applied_twice(faults: FaultStack, workload: Workload, events: dict[str, Any]) -> int:
    ids = set(workload.ids())
    ran = Counter((line["task_id"], line["attempt"]) for line in executions(faults, ids))
    twice = sorted(key for key, n in ran.items() if n > 1)
    assert not twice, f"agents ran these (task, attempt) more than once: {twice[:10]}"

    outcomes: Counter[tuple[str, Any]] = Counter()
    for event in events.values():
        key_of = OUTCOME_KEYS.get(event.type)
        if key_of is None:
            continue
        owner = getattr(event.payload, "goal_id", None) or getattr(event.payload, "saga_id", None)
        if owner in ids:
            outcomes[(event.type, key_of(event.payload))] += 1
    doubled = sorted(str(key) for key, n in outcomes.items() if n > 1)
    assert not doubled, f"outcomes recorded more than once (distinct event ids): {doubled[:10]}"
    succeeded = Counter(key for (kind, key) in outcomes if kind == "TaskSucceeded")
    assert all(n == 1 for n in succeeded.values())

    with connect(faults.read_models) as conn:
        rows = conn.execute(
            "SELECT goal_id, tasks_total, tasks_succeeded FROM goals WHERE goal_id = ANY(%s)", (list(workload.goals),)
        ).fetchall()
        per_goal = dict(
            conn.execute(
                "SELECT goal_id, count(*) FILTER (WHERE status = 'succeeded') FROM tasks WHERE goal_id = ANY(%s) "
                "GROUP BY goal_id",
                (list(workload.goals),),
            ).fetchall()
        )
    counted = [
        (goal, total, done, per_goal.get(goal))
        for goal, total, done in rows
        if not total == done == per_goal.get(goal) == len(GOAL_TASKS)
    ]
    assert not counted, f"goals whose read model counts tasks wrongly (total, succeeded, rows): {counted[:10]}"
    return sum(outcomes.values())


def check_no_event_missing(faults: FaultStack, in_kafka: set[str], timeout_s: float = 90.0) -> int:
    def logged() -> set[str]:
        with connect(faults.read_models) as conn:
            return {r[0] for r in conn.execute("SELECT event_id::text FROM events")}

    wait_until(
        "the projector to log every event on the topics",
        lambda: in_kafka <= logged(),
        timeout_s,
        alive=faults.alive,
    )
    # Nothing extra either: the rebuild check compares the whole event log with a replay of the topics.
    return len(in_kafka)


def snapshot(conn: psycopg.Connection) -> Snapshot:
    """Every read-model row and the event log, sorted by key."""
    shot: Snapshot = {"events": conn.execute("SELECT * FROM events ORDER BY event_id").fetchall()}
    for table, (keys, _columns) in TABLES.items():
        order = ", ".join(f'"{k}"' for k in keys)
        shot[table] = conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
    return shot


def live_cut(url: str) -> tuple[dict[tuple[str, int], int], Snapshot]:
    """The live projector's positions and its read models, read in one repeatable-read transaction."""
    with connect(url) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        positions = {
            (topic, partition): offset
            for topic, partition, offset in conn.execute(
                "SELECT topic, partition, next_offset FROM projector_offsets WHERE projection = %s", (PROJECTION,)
            )
        }
        return positions, snapshot(conn)


def differences(live: Snapshot, rebuilt: Snapshot, per_table: int = 3) -> str:
    lines = []
    for table in live:
        old, new = {repr(r) for r in live[table]}, {repr(r) for r in rebuilt.get(table, [])}
        lines += [f"{table} live only:    {row[:400]}" for row in sorted(old - new)[:per_table]]
        lines += [f"{table} rebuild only: {row[:400]}" for row in sorted(new - old)[:per_table]]
    return "\n".join(lines)


def check_read_models_equal_a_rebuild(faults: FaultStack) -> None:
    positions, live = live_cut(faults.read_models)
    name, url = faults.fresh_database("faults_rebuild")
    try:
        rebuild(faults.settings, url, batch_size=2000, timeout_s=120, until=positions)
        with connect(url) as conn:
            rebuilt = snapshot(conn)
    finally:
        faults.drop_database(name)
    assert rebuilt == live, f"read models differ from a fresh rebuild:\n{differences(live, rebuilt)}"
