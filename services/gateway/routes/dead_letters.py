"""Dead letters: records a consumer rejected, why, and where they came from; re-drive one back to its topic."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from fastapi import status as http_status

from services.gateway import queries
from services.gateway.deps import (
    AdminDep,
    CallerDep,
    CommandBusDep,
    ConnectionDep,
    LimitQuery,
    OffsetQuery,
    SettingsDep,
    StatusQuery,
)
from services.gateway.errors import COMMAND_ERRORS, NOT_FOUND, QUERY_ERRORS
from services.gateway.log_reads import dead_letter_at
from services.gateway.views import DeadLetterRedriven, DeadLetterView, Page, page
from shared.bus.dead_letters import REDRIVE_COUNT

router = APIRouter(prefix="/dead-letters", tags=["dead-letters"])
DeadLetterOffsetPath = Annotated[int, Path(ge=0, description="The dead letter's offset on architect.deadletter")]


@router.get("", operation_id="list_dead_letters", responses=QUERY_ERRORS, summary="List dead letters")
def list_dead_letters(
    _: CallerDep, conn: ConnectionDep, reason: StatusQuery = None, limit: LimitQuery = 50, offset: OffsetQuery = 0
) -> Page[DeadLetterView]:
    """Dead letters, newest first, optionally of one reason (e.g. ``schema_invalid``)."""
    rows = queries.list_dead_letters(conn, reason=reason, limit=limit, offset=offset)
    return page(rows, DeadLetterView, limit=limit, offset=offset, convert=DeadLetterView.from_row)


@router.post(
    "/{dlq_offset}/redrive",
    operation_id="redrive_dead_letter",
    status_code=http_status.HTTP_202_ACCEPTED,
    responses=COMMAND_ERRORS | NOT_FOUND,
    summary="Re-drive a dead letter: its original bytes and headers back to its source topic (admin)",
)
def redrive_dead_letter(
    _: AdminDep, dlq_offset: DeadLetterOffsetPath, settings: SettingsDep, commands: CommandBusDep
) -> DeadLetterRedriven:
    """Read the letter from the dead-letter topic (the read model keeps no original headers) and publish it back,
    counting re-drives in its ``dlq-redrive-count`` header; the consumer handles it again (or dead-letters it
    again, with the count one higher). Do it after fixing the consumer or the data."""
    letter = dead_letter_at(settings, dlq_offset)
    if letter is None:
        raise HTTPException(http_status.HTTP_404_NOT_FOUND, detail=f"no dead letter at offset {dlq_offset}")
    commands.redrive(letter)
    previous = next((int(v or b"0") for k, v in letter.original_headers if k == REDRIVE_COUNT), 0)
    return DeadLetterRedriven(
        dlq_offset=dlq_offset, reason=letter.reason, source_topic=letter.source_topic, redrive_count=previous + 1
    )
