"""The TLS context of the faust services' Kafka clients, from the same settings librdkafka gets.

confluent-kafka takes ``ssl.ca.location``/``ssl.certificate.location``/``ssl.key.location`` (shared/bus/client_config);
aiokafka (under faust) needs an ``ssl.SSLContext``: this builds it from ARCHITECT_KAFKA_SSL_CA_LOCATION and, for
brokers that require client certificates, ARCHITECT_KAFKA_SSL_CERTIFICATE_LOCATION and _KEY_LOCATION.
"""

from __future__ import annotations

import ssl

from shared.settings import Settings


class KafkaSecuritySettingsError(ValueError):
    """The SASL or TLS settings are incomplete or name files that cannot be loaded; the message names the setting."""


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """A client context verifying the brokers (the configured CA, else the system's) with the client certificate
    when one is configured."""
    certificate, key = settings.kafka_ssl_certificate_location, settings.kafka_ssl_key_location
    if bool(certificate) != bool(key):
        raise KafkaSecuritySettingsError(
            "ARCHITECT_KAFKA_SSL_CERTIFICATE_LOCATION and ARCHITECT_KAFKA_SSL_KEY_LOCATION go together: "
            "set both or neither"
        )
    try:
        context = ssl.create_default_context(cafile=settings.kafka_ssl_ca_location or None)
    except (OSError, ssl.SSLError) as exc:
        raise KafkaSecuritySettingsError(
            f"ARCHITECT_KAFKA_SSL_CA_LOCATION: cannot load {settings.kafka_ssl_ca_location!r}: {exc}"
        ) from exc
    if certificate and key:
        try:
            context.load_cert_chain(certificate, key)
        except (OSError, ssl.SSLError) as exc:
            raise KafkaSecuritySettingsError(
                f"ARCHITECT_KAFKA_SSL_CERTIFICATE_LOCATION/_KEY_LOCATION: cannot load {certificate!r} "
                f"with {key!r}: {exc}"
            ) from exc
    return context
