"""librdkafka settings shared by every client: bootstrap servers and security passed through from settings."""

from __future__ import annotations

from typing import Any

from shared.settings import Settings


def kafka_config(settings: Settings) -> dict[str, Any]:
    """Connection and security settings (SASL/SCRAM, TLS) for any confluent-kafka client."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "security.protocol": settings.kafka_security_protocol,
        "socket.timeout.ms": 30_000,
    }
    if settings.kafka_sasl_mechanism:
        config["sasl.mechanism"] = settings.kafka_sasl_mechanism
    if settings.kafka_sasl_username:
        config["sasl.username"] = settings.kafka_sasl_username
    if settings.kafka_sasl_password is not None:
        config["sasl.password"] = settings.kafka_sasl_password.get_secret_value()
    for key, value in (
        ("ssl.ca.location", settings.kafka_ssl_ca_location),
        ("ssl.certificate.location", settings.kafka_ssl_certificate_location),
        ("ssl.key.location", settings.kafka_ssl_key_location),
    ):
        if value:
            config[key] = value
    return config
