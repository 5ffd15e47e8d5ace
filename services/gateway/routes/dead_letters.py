"""Dead letters: records a consumer rejected, why, and where they came from."""

from __future__ import annotations

from fastapi import APIRouter

from services.gateway import queries
from services.gateway.deps import CallerDep, ConnectionDep, LimitQuery, OffsetQuery, StatusQuery
from services.gateway.errors import QUERY_ERRORS
from services.gateway.views import DeadLetterView, Page, page

router = APIRouter(prefix="/dead-letters", tags=["dead-letters"])


@router.get("", operation_id="list_dead_letters", responses=QUERY_ERRORS, summary="List dead letters")
def list_dead_letters(
    _: CallerDep, conn: ConnectionDep, reason: StatusQuery = None, limit: LimitQuery = 50, offset: OffsetQuery = 0
) -> Page[DeadLetterView]:
    """Dead letters, newest first, optionally of one reason (e.g. ``schema_invalid``)."""
    rows = queries.list_dead_letters(conn, reason=reason, limit=limit, offset=offset)
    return page(rows, DeadLetterView, limit=limit, offset=offset, convert=DeadLetterView.from_row)
