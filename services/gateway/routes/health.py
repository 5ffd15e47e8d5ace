"""Probes: liveness (the process answers) and readiness (Kafka and Postgres reachable)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi import status as http_status

from services.gateway.deps import ReadinessChecksDep
from services.gateway.readiness import OK, run_checks
from services.gateway.views import Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="check_liveness", summary="The process is alive")
def check_liveness() -> dict[str, str]:
    """Always 200 while the process serves requests; it checks no dependency, so a broker outage never restarts it."""
    return {"status": "alive"}


@router.get(
    "/readyz",
    operation_id="check_readiness",
    summary="Kafka and Postgres are reachable",
    responses={http_status.HTTP_503_SERVICE_UNAVAILABLE: {"model": Readiness, "description": "A dependency failed"}},
)
def check_readiness(checks: ReadinessChecksDep, response: Response) -> Readiness:
    """200 when Kafka metadata arrives within the budget and Postgres answers ``SELECT 1``; 503 names what failed."""
    outcomes = run_checks(checks)
    ready = all(outcome == OK for outcome in outcomes.values())
    if not ready:
        response.status_code = http_status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness(ready=ready, checks=outcomes)
