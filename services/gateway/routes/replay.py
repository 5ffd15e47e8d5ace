"""Replay of a goal's stream: its events re-read from the Kafka topics, the source of truth, not the read models."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi import status as http_status

from services.gateway.deps import CallerDep, GoalIdPath, SettingsDep
from services.gateway.errors import NOT_FOUND, QUERY_ERRORS
from services.gateway.log_reads import replay_goal
from services.gateway.replay_view import causal_depths
from services.gateway.views import GoalReplay, ReplayedEvent

router = APIRouter(prefix="/goals", tags=["goals"])


@router.get(
    "/{goal_id}/replay",
    operation_id="replay_goal",
    responses=QUERY_ERRORS | NOT_FOUND,
    summary="A goal's events re-read from Kafka, in order, with their depth in the causal tree",
)
def replay(_: CallerDep, goal_id: GoalIdPath, settings: SettingsDep) -> GoalReplay:
    """Scans every event topic from its start (a tool for operators: it costs a full read of the log)."""
    events = replay_goal(settings, goal_id)
    if not events:
        raise HTTPException(http_status.HTTP_404_NOT_FOUND, detail=f"no event on Kafka has correlation id {goal_id!r}")
    depths = causal_depths(events)
    return GoalReplay(
        goal_id=goal_id,
        source="kafka",
        events=[
            ReplayedEvent(
                event_id=e.event_id,
                type=e.type,
                occurred_at=e.occurred_at,
                producer=e.producer,
                stream_id=e.stream_id,
                causation_id=e.causation_id,
                depth=depths[e.event_id],
                payload=e.payload.model_dump(mode="json"),
            )
            for e in events
        ],
    )
