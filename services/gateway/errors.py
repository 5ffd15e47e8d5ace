"""How failures are answered: the status each one maps to, and their documentation in the OpenAPI schema."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.gateway.command_bus import CommandNotAcknowledged, CommandTooLarge, CommandUnstorable
from shared.db.connection import DatabaseNotConfigured

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """Every error but 422 answers with one human-readable ``detail``."""

    detail: str


class ValidationErrorBody(BaseModel):
    """A 422: ``message`` says in one line what is wrong; ``detail`` lists each field error (FastAPI's shape)."""

    message: str
    detail: list[dict[str, Any]]


def _documented(code: int, description: str) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody, "description": description}}


UNAUTHENTICATED = _documented(
    status.HTTP_401_UNAUTHORIZED, "No API key or token, or an unknown, refused, expired or invalid one"
)
FORBIDDEN = _documented(status.HTTP_403_FORBIDDEN, "The API key or token lacks the scope this command needs (named)")
NOT_FOUND = _documented(status.HTTP_404_NOT_FOUND, "The read models do not know the goal (or the gate)")
CONFLICT = _documented(status.HTTP_409_CONFLICT, "The goal is finished or the gate already decided")
TOO_LARGE = _documented(status.HTTP_413_CONTENT_TOO_LARGE, "The command exceeds the event size limit")
KAFKA_UNAVAILABLE = _documented(
    status.HTTP_503_SERVICE_UNAVAILABLE, "Kafka did not acknowledge the command in time; retry with the same key"
)
DATABASE_UNAVAILABLE = _documented(status.HTTP_503_SERVICE_UNAVAILABLE, "The read models cannot be queried")

VALIDATION_FAILED: dict[int | str, dict[str, Any]] = {
    status.HTTP_422_UNPROCESSABLE_CONTENT: {
        "model": ValidationErrorBody,
        "description": "The body, path or query is invalid (nothing was published)",
    }
}

QUERY_ERRORS = UNAUTHENTICATED | VALIDATION_FAILED | DATABASE_UNAVAILABLE
COMMAND_ERRORS = UNAUTHENTICATED | FORBIDDEN | VALIDATION_FAILED | TOO_LARGE | KAFKA_UNAVAILABLE
MAX_LISTED_PROBLEMS = 5


def validation_message(errors: Sequence[Mapping[str, Any]]) -> str:
    """One line naming each invalid field and why, e.g. ``body.goal_type: Field required``."""
    problems = [_problem(error) for error in errors]
    shown = "; ".join(problems[:MAX_LISTED_PROBLEMS])
    more = len(problems) - MAX_LISTED_PROBLEMS
    return f"invalid request: {shown}" + (f" (and {more} more)" if more > 0 else "")


def _problem(error: Mapping[str, Any]) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()))
    reason = str(error.get("msg", "invalid"))
    if error.get("type") == "json_invalid":
        # The location's last part is a character position, and the decoder's own words say what broke.
        cause = (error.get("ctx") or {}).get("error")
        return "the body is not valid JSON" + (f" ({cause})" if cause else "")
    return f"{location}: {reason}" if location else reason


def _invalid_request(_: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse(
        {"message": validation_message(errors), "detail": jsonable_encoder(errors)},
        status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


def _not_acknowledged(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "1"})


def _too_large(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status.HTTP_413_CONTENT_TOO_LARGE)


def _unstorable(_: Request, exc: Exception) -> JSONResponse:
    error = {"loc": ["body"], "msg": str(exc), "type": "nul_character"}
    return JSONResponse({"message": str(exc), "detail": [error]}, status.HTTP_422_UNPROCESSABLE_CONTENT)


def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("read models unavailable for %s %s: %s", request.method, request.url.path, exc)
    reason = str(exc) if isinstance(exc, DatabaseNotConfigured) else f"{type(exc).__name__}"
    return JSONResponse(
        {"detail": f"the read models cannot be queried right now ({reason})"},
        status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "5"},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Map the gateway's failures to their statuses."""
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(CommandNotAcknowledged, _not_acknowledged)
    app.add_exception_handler(CommandTooLarge, _too_large)
    app.add_exception_handler(CommandUnstorable, _unstorable)
    app.add_exception_handler(DatabaseNotConfigured, _database_unavailable)
    app.add_exception_handler(psycopg.OperationalError, _database_unavailable)
