"""The HTTP contract that needs no broker or database: operation ids, auth before anything else, probes, metrics.

The app is used without its lifespan, so no Kafka client is created; every request here is answered before a
handler would need one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NoReturn

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from services.gateway.app import create_app
from services.gateway.auth import DEV_API_KEY
from services.gateway.command_bus import CommandBus
from services.gateway.settings import GatewaySettings
from shared.settings import Settings

OPERATION_IDS = {
    ("POST", "/goals"): "submit_goal",
    ("GET", "/goals"): "list_goals",
    ("GET", "/goals/{goal_id}"): "get_goal",
    ("GET", "/goals/{goal_id}/timeline"): "get_goal_timeline",
    ("POST", "/goals/{goal_id}/cancel"): "cancel_goal",
    ("POST", "/goals/{goal_id}/approvals/{task_id}/approve"): "approve_gate",
    ("POST", "/goals/{goal_id}/approvals/{task_id}/reject"): "reject_gate",
    ("GET", "/approvals"): "list_approvals",
    ("GET", "/tasks"): "list_tasks",
    ("GET", "/agents"): "list_agents",
    ("POST", "/agents"): "register_agent",
    ("GET", "/dead-letters"): "list_dead_letters",
    ("POST", "/dead-letters/{dlq_offset}/redrive"): "redrive_dead_letter",
    ("GET", "/goals/{goal_id}/replay"): "replay_goal",
    ("POST", "/sagas"): "start_saga",
    ("GET", "/sagas"): "list_sagas",
    ("GET", "/sagas/{saga_id}"): "get_saga",
    ("POST", "/sagas/{saga_id}/steps/{step_index}/resolve"): "resolve_compensation",
    ("POST", "/sagas/{saga_id}/abort"): "abort_saga",
    ("POST", "/decisions"): "request_decision",
    ("GET", "/decisions"): "list_decisions",
    ("GET", "/decisions/{decision_id}"): "get_decision",
    ("POST", "/decisions/{decision_id}/resolve"): "resolve_decision",
    ("GET", "/sessions"): "list_sessions",
    ("GET", "/counters"): "list_counters",
    ("GET", "/in-flight"): "list_in_flight",
    ("GET", "/locks"): "list_locks",
    ("GET", "/healthz"): "check_liveness",
    ("GET", "/readyz"): "check_readiness",
    ("GET", "/metrics"): "get_metrics",
}
UNAUTHENTICATED_PATHS = {"/healthz", "/readyz", "/metrics"}


class RefusingBus:
    """Stands where the lifespan puts the command bus: a request that got as far as publishing fails the test."""

    def send(self, *_: object, **__: object) -> NoReturn:
        raise AssertionError("an invalid request reached the command bus")


@pytest.fixture
def app() -> FastAPI:
    keys = SecretStr("submit-key=alice:submit,read-key=reader,admin-key=root:admin")
    app = create_app(Settings(database_url=None), GatewaySettings.model_construct(api_keys=keys, allow_dev_key=False))
    app.state.commands = RefusingBus()
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    yield TestClient(app)


def test_every_operation_has_its_stable_id(app: FastAPI) -> None:
    schema = app.openapi()
    found = {
        (method.upper(), path): op["operationId"] for path, ops in schema["paths"].items() for method, op in ops.items()
    }
    assert found == OPERATION_IDS


def test_every_resource_operation_declares_both_ways_to_send_a_key(app: FastAPI) -> None:
    schema = app.openapi()
    for path, ops in schema["paths"].items():
        if path in UNAUTHENTICATED_PATHS:
            continue
        for op in ops.values():
            assert op["security"] == [{"APIKeyHeader": []}, {"HTTPBearer": []}], path


def test_a_request_without_a_key_gets_401_with_a_challenge(client: TestClient) -> None:
    response = client.get("/goals")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "X-API-Key" in response.json()["detail"]


def test_the_development_key_gets_401_unless_allowed(client: TestClient) -> None:
    response = client.get("/tasks", headers={"X-API-Key": DEV_API_KEY})
    assert response.status_code == 401
    assert "ARCHITECT_GATEWAY_ALLOW_DEV_KEY=1" in response.json()["detail"]


def test_a_key_without_the_scope_gets_403_naming_it_before_anything_is_looked_up(client: TestClient) -> None:
    response = client.post("/goals", headers={"X-API-Key": "read-key"}, json={"goal_type": "fix_bug"})
    assert response.status_code == 403
    assert response.json()["detail"] == "the API key of 'reader' lacks the 'submit' scope"


def test_only_admins_register_agents(client: TestClient) -> None:
    response = client.post("/agents", headers={"Authorization": "Bearer submit-key"}, json={})
    assert response.status_code == 403
    assert "'admin' scope" in response.json()["detail"]


def test_queries_answer_503_when_no_database_is_configured(client: TestClient) -> None:
    response = client.get("/agents", headers={"X-API-Key": "read-key"})
    assert response.status_code == 503
    assert "DATABASE_URL" in response.json()["detail"]


def test_liveness_needs_no_key_and_no_dependency(client: TestClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "alive"})


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get("/goals/some-goal", headers={"X-API-Key": "unknown"})
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'architect_gateway_requests_total{method="GET",route="/goals/{goal_id}",status="401"}' in response.text


@pytest.mark.parametrize(
    ("request_kwargs", "message"),
    [
        (
            {"json": {"goal_typo": "fix_bug"}},
            "invalid request: body.goal_type: Field required; body.goal_typo: Extra inputs are not permitted",
        ),
        (
            {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
            "invalid request: the body is not valid JSON (Expecting property name enclosed in double quotes)",
        ),
        ({"json": ["fix_bug"]}, "invalid request: body: Input should be a valid dictionary"),
        ({}, "invalid request: body: Field required"),
        ({"json": {"goal_type": "fix_bug", "priority": 11}}, "invalid request: body.priority: Input should be less"),
        ({"json": {"goal_type": "fix_bug", "goal_id": "a/b"}}, "invalid request: body.goal_id: String should match"),
    ],
)
def test_a_bad_command_body_gets_422_with_a_message_and_is_never_published(
    client: TestClient, request_kwargs: dict[str, Any], message: str
) -> None:
    kwargs = dict(request_kwargs)
    headers = {"X-API-Key": "submit-key"} | kwargs.pop("headers", {})
    response = client.post("/goals", headers=headers, **kwargs)
    assert response.status_code == 422
    body = response.json()
    assert body["message"].startswith(message)
    assert body["detail"], "the field errors are listed too"


def test_a_bad_agent_registration_names_the_field(client: TestClient) -> None:
    body = {"agent_id": "coder-1", "capabilities": [], "capacity": 0}
    response = client.post("/agents", headers={"X-API-Key": "admin-key"}, json=body)
    assert response.status_code == 422
    message = response.json()["message"]
    assert "body.capabilities: List should have at least 1 item" in message
    assert "body.capacity: Input should be greater than or equal to 1" in message


def test_validation_errors_are_documented_with_their_message(app: FastAPI) -> None:
    schema = app.openapi()
    response = schema["paths"]["/goals"]["post"]["responses"]["422"]
    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ValidationErrorBody"}
    assert set(schema["components"]["schemas"]["ValidationErrorBody"]["required"]) == {"message", "detail"}


class NeverPublishingProducer:
    """A producer the bus must not reach: a command refused before publishing never touches Kafka."""

    def publish(self, *_: object, **__: object) -> NoReturn:
        raise AssertionError("a command holding a NUL character was published")


def test_a_command_holding_a_nul_character_gets_422_and_is_never_published(app: FastAPI, client: TestClient) -> None:
    """JSON carries ``\\u0000`` but the event log cannot, and every consumer would dead-letter the command."""
    app.state.commands = CommandBus(NeverPublishingProducer(), timeout_s=1.0, max_event_bytes=1_000_000)  # type: ignore[arg-type]
    body = {"goal_type": "fix_bug", "title": "crash\u0000on save"}
    response = client.post("/goals", headers={"X-API-Key": "submit-key"}, json=body)
    assert response.status_code == 422
    assert "NUL character" in response.json()["message"]
    assert response.json()["detail"][0]["type"] == "nul_character"
