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
| ``ARCHITECT_GATEWAY_JWT_ISSUER`` / ``_AUDIENCE`` | off | OIDC/JWT bearer tokens: required ``iss`` and ``aud`` |
| ``ARCHITECT_GATEWAY_JWT_KEY`` / ``_JWKS_URL`` | none | a PEM public key or HS* shared secret, or a JWKS URL |
| ``ARCHITECT_GATEWAY_JWT_ALGORITHMS`` | ``RS256,ES256,EdDSA`` | accepted ``alg`` values |
| ``ARCHITECT_GATEWAY_JWT_SCOPE_CLAIM`` / ``_SCOPE_PREFIX`` | ``scope`` / none | claim (dotted path) holding scopes |
| ``ARCHITECT_GATEWAY_JWT_NAME_CLAIM`` | ``sub`` | claim naming the caller (submitter, approver) |
| ``ARCHITECT_GATEWAY_JWT_LEEWAY_S`` / ``_JWKS_CACHE_S`` | ``30`` / ``300`` | clock skew; JWKS cache lifetime |
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.gateway.auth import DEV_API_KEY_ENTRY
from services.gateway.jwt_auth import DEFAULT_ALGORITHMS, JwtConfig


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
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    #: Secret when it is an HMAC key; never logged.
    jwt_key: SecretStr | None = None
    jwt_jwks_url: str | None = None
    jwt_algorithms: str = ",".join(DEFAULT_ALGORITHMS)
    jwt_scope_claim: str = "scope"
    jwt_scope_prefix: str = ""
    jwt_name_claim: str = "sub"
    jwt_leeway_s: float = Field(default=30.0, ge=0, le=600)
    jwt_jwks_cache_s: float = Field(default=300.0, gt=0)

    def jwt_config(self) -> JwtConfig | None:
        """The JWT settings, or None when tokens are off (no issuer); ``JwtConfigError`` when incomplete."""
        if not self.jwt_issuer:
            return None
        return JwtConfig(
            issuer=self.jwt_issuer,
            audience=self.jwt_audience or "",
            key=self.jwt_key.get_secret_value() if self.jwt_key is not None else None,
            jwks_url=self.jwt_jwks_url or None,
            algorithms=tuple(a.strip() for a in self.jwt_algorithms.split(",") if a.strip()),
            scope_claim=self.jwt_scope_claim,
            scope_prefix=self.jwt_scope_prefix,
            name_claim=self.jwt_name_claim,
            leeway_s=self.jwt_leeway_s,
            jwks_cache_s=self.jwt_jwks_cache_s,
        )
