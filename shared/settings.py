"""Runtime configuration, read only from environment variables (documented in the README)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob a service reads. Names are the environment variables, prefixed ``ARCHITECT_``."""

    model_config = SettingsConfigDict(env_prefix="ARCHITECT_", extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca_location: str | None = None
    kafka_ssl_certificate_location: str | None = None
    kafka_ssl_key_location: str | None = None

    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")

    topic_partitions: int = 6
    topic_replication_factor: int = 1

    service_name: str = "architect"
    metrics_port: int = 0
    log_level: str = "INFO"
    max_event_bytes: int = 1_000_000
    projector_max_batch: int = 2000
    producer_linger_ms: int = Field(default=5, ge=0, le=1000)
    """How long a producer (services' and faust apps' alike; transactional ones excepted, see ``shared.bus.producer``)
    waits for more records before it sends a request: the latency/throughput knob. On a 2-core VM, 20 ms instead of
    5 gave about 269 instead of 230 tasks/s on the goal path (fewer, fuller requests cost the broker less) and an
    assignment p99 of 62 instead of 35 ms; a few runs on a VM whose speed drifted, so indicative
    (bench/results/goal_path.md). Whole milliseconds, as faust's producer takes them."""
    shutdown_timeout_s: float = 30.0
    """How long a faust service may take to stop after SIGTERM before it exits anyway."""
    agent_identity_secret: SecretStr | None = None
    """Per-agent identity: the assigner verifies agents' report signatures with it (see shared.agent_identity);
    an agent runtime given it derives the tokens of the agents it hosts."""
    agent_tokens: SecretStr | None = None
    """``agent=token,...``: the credentials of the agents an agent runtime hosts (instead of the secret)."""
    data_dir: Path = Path.home() / ".cache" / "architect" / "data"
    """Local working files (faust's table caches); never the source of truth."""

    @field_validator("agent_identity_secret", "agent_tokens", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """An empty variable (``KEY=`` in compose, a blank Secret key) means none, not a secret of ""."""
        return None if isinstance(value, str) and not value.strip() else value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests build their own ``Settings(...)`` instead of patching this."""
    return Settings()
