"""The gateway application: routers, error mapping, request metrics, and the clients living as long as the app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata

from fastapi import FastAPI

from services.gateway.auth import ApiKeys
from services.gateway.command_bus import CommandBus
from services.gateway.console import install_console
from services.gateway.errors import install_error_handlers
from services.gateway.http_metrics import RequestMetrics
from services.gateway.jwt_auth import JwtVerifier
from services.gateway.read_models import ReadModels
from services.gateway.readiness import kafka_check, postgres_check
from services.gateway.routes import (
    agents,
    approvals,
    dead_letters,
    decisions,
    goals,
    health,
    metrics,
    replay,
    sagas,
    shared_state,
    tasks,
)
from services.gateway.settings import GatewaySettings
from shared.bus.bootstrap import admin_client
from shared.settings import Settings

log = logging.getLogger(__name__)
ROUTERS = (
    goals.router,
    replay.router,
    approvals.router,
    tasks.router,
    agents.router,
    dead_letters.router,
    sagas.router,
    decisions.router,
    shared_state.router,
    health.router,
    metrics.router,
)


def create_app(settings: Settings, gateway_settings: GatewaySettings | None = None) -> FastAPI:
    """Build the app without touching Kafka or Postgres; its lifespan opens the Kafka clients.

    Raises ``ApiKeyFormatError`` (naming the entry, never its key) when the configured API keys are malformed,
    ``JwtConfigError`` when the JWT settings are incomplete.
    """
    gateway_settings = gateway_settings or GatewaySettings()
    api_keys = ApiKeys.parse(gateway_settings.api_keys.get_secret_value(), allow_dev_key=gateway_settings.allow_dev_key)
    app = FastAPI(
        title="Architect gateway",
        summary="Commands in as events on Kafka; queries out of the Postgres read models.",
        version=_version(),
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.gateway_settings = gateway_settings
    app.state.api_keys = api_keys
    jwt_config = gateway_settings.jwt_config()
    app.state.jwt_verifier = JwtVerifier(jwt_config) if jwt_config is not None else None
    app.state.read_models = ReadModels(
        settings.database_url,
        statement_timeout_ms=gateway_settings.query_timeout_ms,
        connect_timeout_s=gateway_settings.readiness_timeout_s,
    )
    app.add_middleware(RequestMetrics)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    install_console(app)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    gateway_settings: GatewaySettings = app.state.gateway_settings
    budget = gateway_settings.readiness_timeout_s
    if gateway_settings.allow_dev_key:
        log.warning("the development API key is accepted (ARCHITECT_GATEWAY_ALLOW_DEV_KEY): for local use only")
    if app.state.jwt_verifier is not None:
        log.info("OIDC/JWT bearer tokens accepted: %r", app.state.jwt_verifier)
    if not app.state.api_keys and app.state.jwt_verifier is None:
        log.warning("no usable API key is configured: every request except the probes will get 401")
    commands = CommandBus.open(settings, timeout_s=gateway_settings.publish_timeout_s)
    app.state.commands = commands
    app.state.readiness_checks = {
        "kafka": kafka_check(admin_client(settings), budget),
        "postgres": postgres_check(
            ReadModels(settings.database_url, statement_timeout_ms=int(budget * 1000), connect_timeout_s=budget)
        ),
    }
    try:
        yield
    finally:
        commands.close()


def _version() -> str:
    try:
        return metadata.version("architect")
    except metadata.PackageNotFoundError:
        return "0.0.0"
