"""What handlers may ask for, as ``Annotated`` dependencies: settings, the caller, a connection, the command bus.

Everything comes from ``app.state`` (filled by ``create_app`` and its lifespan), so tests override a dependency
with ``app.dependency_overrides`` instead of patching module globals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Path, Query, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from services.gateway import queries
from services.gateway.auth import ApiKeys, AuthenticationFailed, Caller, MissingScope, Scope, presented_key
from services.gateway.command_bodies import IDENTIFIER_PATTERN, MAX_ID_LENGTH
from services.gateway.command_bus import CommandBus
from services.gateway.jwt_auth import JwtVerifier, authenticate
from services.gateway.read_models import Connection, ReadModels
from services.gateway.readiness import Check
from services.gateway.settings import GatewaySettings
from shared.settings import Settings

TERMINAL_GOAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
MAX_PAGE_SIZE = 500


def get_settings(request: Request) -> Settings:
    """The shared settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


def get_gateway_settings(request: Request) -> GatewaySettings:
    """The gateway's own settings."""
    gateway_settings: GatewaySettings = request.app.state.gateway_settings
    return gateway_settings


SettingsDep = Annotated[Settings, Depends(get_settings)]
GatewaySettingsDep = Annotated[GatewaySettings, Depends(get_gateway_settings)]

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key")
_bearer = HTTPBearer(auto_error=False, description="An API key, or an OIDC/JWT access token when configured")


def get_caller(
    request: Request,
    x_api_key: Annotated[str | None, Depends(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The caller behind the request's API key or JWT, or 401."""
    keys: ApiKeys = request.app.state.api_keys
    verifier: JwtVerifier | None = request.app.state.jwt_verifier
    try:
        return authenticate(keys, verifier, presented_key(x_api_key, bearer.credentials if bearer else None))
    except AuthenticationFailed as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail=str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from None


CallerDep = Annotated[Caller, Depends(get_caller)]


def requires(scope: Scope) -> Callable[[Caller], Caller]:
    """A dependency that lets through callers holding ``scope`` and answers 403 naming it to the others."""

    def holding_scope(caller: CallerDep) -> Caller:
        try:
            return caller.require(scope)
        except MissingScope as exc:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc)) from None

    return holding_scope


SubmitterDep = Annotated[Caller, Depends(requires(Scope.SUBMIT))]
ApproverDep = Annotated[Caller, Depends(requires(Scope.APPROVE))]
AdminDep = Annotated[Caller, Depends(requires(Scope.ADMIN))]


def get_connection(request: Request) -> Iterator[Connection]:
    """A read-only connection to the read models, closed after the response."""
    read_models: ReadModels = request.app.state.read_models
    with read_models.connect() as conn:
        yield conn


ConnectionDep = Annotated[Connection, Depends(get_connection)]


def get_command_bus(request: Request) -> CommandBus:
    """The bus that publishes commands and waits for Kafka's acknowledgement."""
    bus: CommandBus = request.app.state.commands
    return bus


CommandBusDep = Annotated[CommandBus, Depends(get_command_bus)]


def get_readiness_checks(request: Request) -> dict[str, Check]:
    """The dependency checks behind /readyz, by name."""
    checks: dict[str, Check] = request.app.state.readiness_checks
    return checks


ReadinessChecksDep = Annotated[dict[str, Check], Depends(get_readiness_checks)]

GoalIdPath = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, pattern=IDENTIFIER_PATTERN)]
#: Task ids are ``<goal>/<step>`` (``<goal>/rN/<step>`` after a replan): identifiers joined by slashes, which the
#: routes take with a ``:path`` converter so a real gate can be addressed.
TASK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]*(/[A-Za-z0-9][A-Za-z0-9._:@-]*)*$"
TaskIdPath = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, pattern=TASK_ID_PATTERN)]
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Retry a command with the same key and it keeps the same event id, so it is applied once",
    ),
]
StatusQuery = Annotated[str | None, Query(min_length=1, max_length=50)]
IdQuery = Annotated[str | None, Query(min_length=1, max_length=MAX_ID_LENGTH)]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
OffsetQuery = Annotated[int, Query(ge=0)]


@dataclass(frozen=True)
class KnownGoal:
    """A goal the read models know; ``status`` is None while only its commands are logged."""

    goal_id: str
    status: str | None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_GOAL_STATUSES


def get_known_goal(goal_id: GoalIdPath, conn: ConnectionDep) -> KnownGoal:
    """The goal named in the path, or 404 when neither its row nor any of its events is in the read models."""
    row = queries.goal(conn, goal_id)
    if row is not None:
        return KnownGoal(goal_id, row["status"])
    if queries.goal_is_logged(conn, goal_id):
        return KnownGoal(goal_id, None)
    raise HTTPException(
        status.HTTP_404_NOT_FOUND,
        detail=f"goal {goal_id!r} is not in the read models (one submitted a moment ago may not be projected yet)",
    )


KnownGoalDep = Annotated[KnownGoal, Depends(get_known_goal)]
