"""Entry point: load settings, migrate the read-side schema, serve HTTP until SIGTERM or SIGINT.

Listens on ``ARCHITECT_GATEWAY_HOST``:``ARCHITECT_GATEWAY_PORT`` (see ``services.gateway.settings``).
"""

from __future__ import annotations

import logging
import signal
from types import FrameType

import uvicorn

from services.gateway.app import create_app
from services.gateway.auth import ApiKeyFormatError
from services.gateway.jwt_auth import JwtConfigError
from services.gateway.settings import GatewaySettings
from shared.db.connection import connect, database_url
from shared.db.schema import migrate
from shared.service_runtime import configure_logging
from shared.settings import get_settings
from shared.tracing import configure_tracing

log = logging.getLogger("gateway")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _exit_cleanly(signum: int, _: FrameType | None) -> None:
    """Outside uvicorn's own handling (before it serves, or when it re-raises the signal after draining)."""
    log.info("gateway stopped by %s", signal.Signals(signum).name)
    raise SystemExit(0)


def main() -> None:
    settings = get_settings()
    gateway_settings = GatewaySettings()
    configure_logging(settings.log_level)
    try:
        app = create_app(settings, gateway_settings)
    except ApiKeyFormatError as exc:
        raise SystemExit(f"ARCHITECT_GATEWAY_API_KEYS: {exc}") from None
    except JwtConfigError as exc:
        raise SystemExit(f"ARCHITECT_GATEWAY_JWT_*: {exc}") from None
    # uvicorn swaps in its own handlers while serving (it stops accepting, drains requests, runs the lifespan's
    # shutdown, which flushes the command producer), then restores these and re-raises the signal to them.
    for sig in STOP_SIGNALS:
        signal.signal(sig, _exit_cleanly)
    provider = configure_tracing("gateway")
    try:
        with connect(database_url(settings)) as conn:
            migrate(conn)
        # log_config=None keeps the shared logging format.
        uvicorn.run(
            app,
            host=gateway_settings.host,
            port=gateway_settings.port,
            log_level=settings.log_level.lower(),
            log_config=None,
        )
    finally:
        if provider is not None:
            provider.shutdown()


if __name__ == "__main__":
    main()
