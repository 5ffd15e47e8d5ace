"""SASL and TLS settings reach both client stacks: librdkafka's config and the faust services' credentials."""

from __future__ import annotations

import ast
import inspect
import ssl
import subprocess
from pathlib import Path

import faust
import pytest

from shared.bus.client_config import kafka_config
from shared.bus.faust_stream import _credentials
from shared.bus.producer import producer_config
from shared.bus.tls import KafkaSecuritySettingsError, ssl_context
from shared.settings import Settings


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and its key (the certificate doubles as the CA)."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "tls.crt", directory / "tls.key"
    request = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=architect-test"]
    subprocess.run(
        [*request, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def _settings(protocol: str, cert: Path, key: Path | None, **extra: object) -> Settings:
    return Settings(
        kafka_security_protocol=protocol,
        kafka_ssl_ca_location=str(cert),
        kafka_ssl_certificate_location=str(cert),
        kafka_ssl_key_location=str(key) if key else None,
        **extra,  # type: ignore[arg-type]
    )


def test_tls_with_a_client_certificate_reaches_both_stacks(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    settings = _settings("SSL", cert, key)
    librdkafka = kafka_config(settings)
    assert (librdkafka["ssl.ca.location"], librdkafka["ssl.certificate.location"]) == (str(cert), str(cert))
    assert librdkafka["ssl.key.location"] == str(key)
    credentials = _credentials(settings)
    assert isinstance(credentials, faust.SSLCredentials)
    context = credentials.context
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "architect-test"),),)]


def test_sasl_over_tls_gets_the_same_context_and_the_scram_user(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    settings = _settings(
        "SASL_SSL",
        cert,
        key,
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="architect-orchestrator",
        kafka_sasl_password="secret",
    )
    librdkafka = kafka_config(settings)
    assert (librdkafka["sasl.mechanism"], librdkafka["sasl.username"]) == ("SCRAM-SHA-512", "architect-orchestrator")
    credentials = _credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.username, credentials.password) == ("architect-orchestrator", "secret")
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert len(credentials.ssl_context.get_ca_certs()) == 1


def test_sasl_without_its_user_is_refused_naming_the_settings() -> None:
    with pytest.raises(KafkaSecuritySettingsError, match="needs ARCHITECT_KAFKA_SASL_USERNAME and _PASSWORD"):
        _credentials(Settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="architect-x"))


def test_incomplete_or_unreadable_tls_files_are_refused_naming_the_setting(
    certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, _ = certificate
    with pytest.raises(KafkaSecuritySettingsError, match="go together"):
        ssl_context(_settings("SSL", cert, None))
    with pytest.raises(KafkaSecuritySettingsError, match="ARCHITECT_KAFKA_SSL_CA_LOCATION"):
        ssl_context(Settings(kafka_security_protocol="SSL", kafka_ssl_ca_location=str(tmp_path / "missing.crt")))
    with pytest.raises(KafkaSecuritySettingsError, match="CERTIFICATE_LOCATION/_KEY_LOCATION"):
        ssl_context(_settings("SSL", cert, cert))  # a certificate is not a key


def test_plaintext_needs_no_credentials() -> None:
    assert _credentials(Settings()) is None


ROOT = Path(__file__).resolve().parents[3]
CLIENT_CLASSES = {"Consumer", "Producer", "AdminClient", "AIOKafkaConsumer", "AIOKafkaProducer"}


def _client_constructions() -> list[tuple[Path, str, str]]:
    """(file, client class, source of the function around it) for every Kafka client the code builds."""
    found = []
    for path in [*(ROOT / "services").rglob("*.py"), *(ROOT / "shared").rglob("*.py")]:
        if "tests" in path.parts or path.is_relative_to(ROOT / "shared" / "infra"):
            continue  # shared/infra starts local brokers: plaintext by design
        source = path.read_text()
        tree = ast.parse(source)
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CLIENT_CLASSES:
                    found.append((path, node.func.id, ast.get_source_segment(source, function) or ""))
    return found


def test_every_kafka_client_the_services_build_takes_the_security_settings() -> None:
    constructions = _client_constructions()
    assert {name for _, name, _ in constructions} >= {"Consumer", "Producer", "AdminClient"}
    # producer_config(settings, ...) is kafka_config(settings) with the producer's settings on top.
    assert "kafka_config(settings)" in inspect.getsource(producer_config)
    for path, name, function in constructions:
        assert "kafka_config(" in function or "producer_config(" in function, (
            f"{path.relative_to(ROOT)}: {name} built without kafka_config(settings)"
        )
    # faust apps: every one comes from make_app, which passes _credentials(settings).
    for path in (ROOT / "services").rglob("*.py"):
        assert "faust.App(" not in path.read_text(), f"{path.relative_to(ROOT)} builds a faust app without make_app"
