"""OIDC/JWT bearer tokens at the gateway: valid tokens become callers with the scopes of their claim; wrong
audience or issuer, expired, badly signed tokens get 401 saying why; a missing scope gets 403 naming it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from services.gateway.app import create_app
from services.gateway.auth import ApiKeys, AuthenticationFailed, Scope
from services.gateway.jwt_auth import JwtConfig, JwtConfigError, JwtVerifier, authenticate, scopes_from_claims
from services.gateway.settings import GatewaySettings
from shared.events.codec import new_event
from shared.events.envelope import Envelope, Payload
from shared.settings import Settings

pytestmark = pytest.mark.timeout(30)
ISSUER = "https://id.example.com/"
AUDIENCE = "architect"


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


SIGNING_KEY = _rsa_key()
OTHER_KEY = _rsa_key()
PUBLIC_PEM = (
    SIGNING_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def token(
    key: Any = SIGNING_KEY, algorithm: str = "RS256", headers: dict[str, Any] | None = None, **claims: Any
) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice@example.com", "iat": now, "exp": now + 300}
    body.update(claims)
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm=algorithm, headers=headers)


class RecordingBus:
    """Stands where the lifespan puts the command bus and keeps what would have been published."""

    def __init__(self) -> None:
        self.sent: list[Envelope[Any]] = []

    def send(self, payload: Payload, *, stream_id: str, event_id: Any) -> Envelope[Any]:
        envelope = new_event(
            payload, producer="gateway", stream_id=stream_id, correlation_id=stream_id, event_id=event_id
        )
        self.sent.append(envelope)
        return envelope


@pytest.fixture
def app() -> FastAPI:
    gateway_settings = GatewaySettings.model_construct(
        api_keys=SecretStr("submit-key=bob:submit"),
        allow_dev_key=False,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_key=SecretStr(PUBLIC_PEM),
        jwt_jwks_url=None,
        jwt_algorithms="RS256",
        jwt_scope_claim="scope",
        jwt_scope_prefix="",
        jwt_name_claim="sub",
        jwt_leeway_s=0.0,
        jwt_jwks_cache_s=300.0,
    )
    app = create_app(Settings(database_url=None), gateway_settings)
    app.state.commands = RecordingBus()
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    yield TestClient(app)


def submit(client: TestClient, bearer: str) -> Any:
    return client.post("/goals", headers={"Authorization": f"Bearer {bearer}"}, json={"goal_type": "fix_bug"})


def test_a_valid_token_submits_as_its_subject(client: TestClient, app: FastAPI) -> None:
    response = submit(client, token(scope="openid submit"))
    assert response.status_code == 202, response.text
    (sent,) = app.state.commands.sent
    assert sent.payload.submitted_by == "alice@example.com"


def test_api_keys_still_work_beside_tokens(client: TestClient, app: FastAPI) -> None:
    assert submit(client, "submit-key").status_code == 202
    assert app.state.commands.sent[0].payload.submitted_by == "bob"


@pytest.mark.parametrize(
    ("make_bearer", "message"),
    [
        (lambda: token(aud="someone-else", scope="submit"), "invalid token: its audience is not 'architect'"),
        (
            lambda: token(iss="https://evil.example.com/", scope="submit"),
            f"invalid token: its issuer is not {ISSUER!r}",
        ),
        (lambda: token(exp=int(time.time()) - 60, scope="submit"), "invalid token: it has expired"),
        (lambda: token(key=OTHER_KEY, scope="submit"), "invalid token: its signature does not verify"),
        (lambda: token(exp=None, scope="submit"), "invalid token: it lacks the 'exp' claim"),
        (lambda: token(nbf=int(time.time()) + 3600, scope="submit"), "invalid token: it is not valid yet"),
        (
            lambda: token(key="a-shared-secret-of-32-bytes-length!", algorithm="HS256", scope="submit"),
            "invalid token: its algorithm is not one of RS256",
        ),
        (lambda: "eyJhbGciOiJSUzI1NiJ9.not-base64.zzz", "invalid token: DecodeError"),
    ],
    ids=["audience", "issuer", "expired", "signature", "no-exp", "not-yet-valid", "hs256-confusion", "malformed"],
)
def test_a_bad_token_gets_401_saying_why_and_nothing_is_published(
    client: TestClient, app: FastAPI, make_bearer: Callable[[], str], message: str
) -> None:
    bearer = make_bearer()
    response = submit(client, bearer)
    assert response.status_code == 401
    assert response.json()["detail"] == message
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert bearer not in response.text
    assert app.state.commands.sent == []


def test_a_token_without_the_scope_gets_403_naming_it(client: TestClient, app: FastAPI) -> None:
    response = submit(client, token(scope="openid approve"))
    assert response.status_code == 403
    assert response.json()["detail"] == "the token of 'alice@example.com' lacks the 'submit' scope"
    assert app.state.commands.sent == []


def test_a_token_with_no_subject_is_refused(client: TestClient) -> None:
    response = submit(client, token(sub=None, scope="submit"))
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid token: no 'sub' claim naming the caller"


def test_a_token_is_refused_clearly_when_jwt_auth_is_off() -> None:
    with pytest.raises(AuthenticationFailed, match="accepts only API keys"):
        authenticate(ApiKeys.parse("k=alice:submit"), None, token(scope="submit"))


@pytest.mark.parametrize(
    ("claims", "claim", "prefix", "expected"),
    [
        ({"scope": "openid submit approve"}, "scope", "", {Scope.SUBMIT, Scope.APPROVE}),
        ({"scp": ["admin", "User.Read"]}, "scp", "", {Scope.ADMIN}),
        ({"scope": "architect:submit submit other:admin"}, "scope", "architect:", {Scope.SUBMIT}),
        ({"realm_access": {"roles": ["approve"]}}, "realm_access.roles", "", {Scope.APPROVE}),
        ({"scope": 42}, "scope", "", set()),
        ({}, "scope", "", set()),
    ],
)
def test_scopes_come_from_the_configured_claim(
    claims: dict[str, Any], claim: str, prefix: str, expected: set[Scope]
) -> None:
    assert scopes_from_claims(claims, claim, prefix) == frozenset(expected)


def test_a_shared_secret_verifies_hs256_tokens() -> None:
    secret = "a-shared-secret-of-32-bytes-length!"
    verifier = JwtVerifier(JwtConfig(ISSUER, AUDIENCE, key=secret, algorithms=("HS256",)))
    caller = verifier.authenticate(token(key=secret, algorithm="HS256", scope="approve"))
    assert (caller.name, caller.scopes) == ("alice@example.com", frozenset({Scope.APPROVE}))
    assert secret not in repr(verifier) and secret not in repr(verifier.config)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"audience": ""}, "needs both"),
        ({}, "exactly one of"),
        ({"key": "k", "jwks_url": "http://x"}, "exactly one of"),
        ({"key": "k", "algorithms": ("HS256", "RS256")}, "HMAC algorithms"),
        ({"jwks_url": "http://x", "algorithms": ("HS256",)}, "HMAC algorithms"),
    ],
)
def test_incomplete_or_contradictory_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(JwtConfigError, match=message):
        JwtConfig(ISSUER, kwargs.pop("audience", AUDIENCE), **kwargs)


class _JwksHandler(BaseHTTPRequestHandler):
    body = b""
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def jwks_url() -> Iterator[str]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(SIGNING_KEY.public_key()))
    _JwksHandler.body = json.dumps({"keys": [jwk | {"kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()
    _JwksHandler.hits = 0
    server = HTTPServer(("127.0.0.1", 0), _JwksHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/jwks.json"
    finally:
        server.shutdown()


def test_keys_are_fetched_from_the_jwks_url_and_cached(jwks_url: str) -> None:
    verifier = JwtVerifier(JwtConfig(ISSUER, AUDIENCE, jwks_url=jwks_url, algorithms=("RS256",)))
    for _ in range(3):
        caller = verifier.authenticate(token(headers={"kid": "k1"}, scope="submit"))
        assert caller.scopes == frozenset({Scope.SUBMIT})
    assert _JwksHandler.hits == 1
    with pytest.raises(AuthenticationFailed, match="no signing key for it"):
        verifier.authenticate(token(headers={"kid": "unknown"}, scope="submit"))
    with pytest.raises(AuthenticationFailed, match="its signature does not verify"):
        verifier.authenticate(token(key=OTHER_KEY, headers={"kid": "k1"}, scope="submit"))
