"""Publishing sample streams and reading read models back, for projector tests."""

from __future__ import annotations

from typing import Any

from shared.bus.producer import EventProducer
from shared.bus.reader import read_to_end
from shared.bus.topics import EVENT_TOPICS
from shared.db.connection import connect
from shared.events.catalogue.agents import AgentHeartbeat, AgentRegistered
from shared.events.catalogue.goals import GoalCompleted, GoalPlanned, GoalSubmitted, PlannedTask
from shared.events.catalogue.tasks import TaskAssigned, TaskCreated, TaskStarted, TaskSucceeded
from shared.events.codec import DecodeError, decode, new_event
from shared.events.envelope import Envelope
from shared.settings import Settings


def goal_stream(goal_id: str, tasks: int = 3, agent_id: str = "agent-1") -> list[Envelope[Any]]:
    """The events of one goal run to completion: submitted, planned, each task created..succeeded, completed."""

    def ev(payload: Any, stream: str = goal_id) -> Envelope[Any]:
        return new_event(payload, producer="sample", stream_id=stream, correlation_id=goal_id)

    ids = [f"{goal_id}:t{i}" for i in range(tasks)]
    events = [
        ev(AgentRegistered(agent_id=agent_id, capabilities=["code"], capacity=4), stream=agent_id),
        ev(GoalSubmitted(goal_id=goal_id, goal_type="fix_bug", title=f"goal {goal_id}")),
        ev(
            GoalPlanned(
                goal_id=goal_id,
                method="fix_bug",
                tasks=[
                    PlannedTask(task_id=t, operator="code", capability="code", depends_on=ids[:i])
                    for i, t in enumerate(ids)
                ],
            )
        ),
    ]
    for number, task_id in enumerate(ids):
        events += [
            ev(TaskCreated(task_id=task_id, goal_id=goal_id, operator="code", capability="code")),
            ev(TaskAssigned(task_id=task_id, goal_id=goal_id, agent_id=agent_id)),
            ev(TaskStarted(task_id=task_id, goal_id=goal_id, agent_id=agent_id)),
            ev(
                TaskSucceeded(
                    task_id=task_id,
                    goal_id=goal_id,
                    agent_id=agent_id,
                    tokens_used=10 + number,
                    output={"summary": f"did {task_id}"},
                )
            ),
            ev(AgentHeartbeat(agent_id=agent_id, in_flight=0, tokens_used=10 * number), stream=agent_id),
        ]
    events.append(ev(GoalCompleted(goal_id=goal_id, tasks_succeeded=tasks)))
    return events


def publish_all(producer: EventProducer, events: list[Envelope[Any]]) -> None:
    for event in events:
        producer.publish(event)
    producer.flush()


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model row and every logged event id, sorted, for equality checks."""
    with connect(url) as conn:
        return {
            "events": conn.execute(
                'SELECT event_id, type, topic, partition, "offset" FROM events ORDER BY 1'
            ).fetchall(),
            "goals": conn.execute("SELECT * FROM goals ORDER BY goal_id").fetchall(),
            "tasks": conn.execute("SELECT * FROM tasks ORDER BY task_id").fetchall(),
            "agents": conn.execute("SELECT * FROM agents ORDER BY agent_id").fetchall(),
            "approvals": conn.execute("SELECT * FROM approvals ORDER BY 1, 2").fetchall(),
        }


def snapshot_differences(before: dict[str, list[tuple[Any, ...]]], after: dict[str, list[tuple[Any, ...]]]) -> str:
    """The rows that differ between two snapshots, a few per table, for a readable assertion message."""
    lines = []
    for table in before:
        old, new = {repr(r) for r in before[table]}, {repr(r) for r in after.get(table, [])}
        for row in sorted(old - new)[:3]:
            lines.append(f"{table} before only: {row}")
        for row in sorted(new - old)[:3]:
            lines.append(f"{table} after only:  {row}")
    return "\n".join(lines)


def valid_event_ids_in_kafka(settings: Settings) -> set[str]:
    ids = set()
    for record in read_to_end(settings, EVENT_TOPICS):
        try:
            ids.add(str(decode(record.value, record.key).event_id))
        except DecodeError:
            continue
    return ids


def projected_everything(settings: Settings, url: str) -> bool:
    """Every valid event now in Kafka is in the event log (compared by id, so transaction markers do not count)."""
    in_kafka = valid_event_ids_in_kafka(settings)
    with connect(url) as conn:
        logged = {r[0] for r in conn.execute("SELECT event_id::text FROM events")}
    return in_kafka <= logged
