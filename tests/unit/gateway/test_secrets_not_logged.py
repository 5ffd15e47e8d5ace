"""Secrets never leak: API keys, JWT signing secrets and tokens, and the Kafka SASL password appear in no log
record, no probe or metrics body, no error body and no repr/str/JSON dump of the settings that hold them."""

from __future__ import annotations

import logging
import time

import jwt
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from shared.settings import Settings

pytestmark = pytest.mark.timeout(30)

API_KEY = "api-key-7c1e5d0f9a"
JWT_SECRET = "jwt-shared-secret-4b8e2f6a1c3d5e7f"
SASL_PASSWORD = "sasl-password-9d2c4e6f8a"
ISSUER, AUDIENCE = "https://id.example.com/", "architect"


def _token(**claims: object) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "carol", "exp": now + 60, "scope": "submit"} | claims
    return jwt.encode(body, JWT_SECRET, algorithm="HS256")


def test_no_secret_reaches_logs_probes_errors_or_reprs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings(
        database_url=None,
        kafka_bootstrap_servers="127.0.0.1:1",  # nothing listens: the lifespan's clients must not reach a real broker
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="architect",
        kafka_sasl_password=SecretStr(SASL_PASSWORD),
    )
    gateway_settings = GatewaySettings(
        api_keys=SecretStr(f"{API_KEY}=ops:admin"),
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_key=SecretStr(JWT_SECRET),
        jwt_algorithms="HS256",
    )
    app = create_app(settings, gateway_settings)
    valid, expired, forged = _token(), _token(exp=int(time.time()) - 100), _token(sub="x") + "x"
    secrets = [API_KEY, JWT_SECRET, SASL_PASSWORD, valid, expired, forged]

    bodies: list[str] = []
    with TestClient(app, raise_server_exceptions=False) as client:
        for headers in (
            {"X-API-Key": API_KEY},
            {"X-API-Key": API_KEY + "-wrong"},
            {"Authorization": f"Bearer {valid}"},
            {"Authorization": f"Bearer {expired}"},
            {"Authorization": f"Bearer {forged}"},
        ):
            bodies.append(client.get("/tasks", headers=headers).text)
            bodies.append(client.post("/goals", headers=headers, json={"goal_typo": 1}).text)
        bodies += [client.get(path).text for path in ("/healthz", "/readyz", "/metrics", "/openapi.json")]

    dumps = [
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        repr(gateway_settings),
        str(gateway_settings),
        gateway_settings.model_dump_json(),
        repr(app.state.api_keys),
        repr(app.state.jwt_verifier),
        repr(app.state.jwt_verifier.config),
    ]
    logged = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    assert caplog.records, "the app logged nothing: the check would be vacuous"
    for secret in secrets:
        assert secret not in logged
        for text in bodies + dumps:
            assert secret not in text
