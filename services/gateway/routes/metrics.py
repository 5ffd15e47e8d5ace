"""Prometheus exposition of the process's default registry."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    operation_id="get_metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Text exposition format"}},
)
def get_metrics() -> Response:
    """Every metric of the default registry: the shared bus metrics and the gateway's request and command counts."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
