"""The gateway's own knobs, read from ``ARCHITECT_GATEWAY_*`` environment variables.

| variable | default | meaning |
|---|---|---|
| ``ARCHITECT_GATEWAY_HOST`` | ``127.0.0.1`` | interface uvicorn binds (``0.0.0.0`` in containers) |
| ``ARCHITECT_GATEWAY_PORT`` | ``8080`` | HTTP port |
| ``ARCHITECT_GATEWAY_API_KEYS`` | the development key | ``key1=name1:submit+approve,key2=name2:admin`` |
| ``ARCHITECT_GATEWAY_ALLOW_DEV_KEY`` | ``0`` | ``1`` accepts the well-known development key (local use only) |
| ``ARCHITECT_GATEWAY_PUBLISH_TIMEOUT_S`` | ``5`` | how long a command waits for Kafka's acknowledgement |
| ``ARCHITECT_GATEWAY_READINESS_TIMEOUT_S`` | ``2`` | budget of each readiness check (Kafka metadata, Postgres) |
| ``ARCHITECT_GATEWAY_QUERY_TIMEOUT_MS`` | ``5000`` | statement timeout of read-model queries |
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.gateway.auth import DEV_API_KEY_ENTRY


class GatewaySettings(BaseSettings):
    """Gateway configuration; Kafka and Postgres come from the shared ``Settings``."""

    model_config = SettingsConfigDict(env_prefix="ARCHITECT_GATEWAY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    #: Secret: parsed once at start-up, never logged (errors name the entry's position, not its text).
    api_keys: SecretStr = SecretStr(DEV_API_KEY_ENTRY)
    allow_dev_key: bool = False
    publish_timeout_s: float = Field(default=5.0, gt=0, le=120)
    readiness_timeout_s: float = Field(default=2.0, gt=0, le=30)
    query_timeout_ms: int = Field(default=5000, ge=100, le=600_000)
