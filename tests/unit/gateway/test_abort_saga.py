"""``POST /sagas/{saga_id}/abort``: the approve scope, 404 for a saga the read models do not know, 409 with the
reason for one that is not running, and an ``AbortSaga`` with the caller and the reason for a running one.

The read models stand in as a one-table lookup and the command bus records what it is given; the real broker,
coordinator and projector are in tests/integration/test_saga_coordinator.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from services.gateway.app import create_app
from services.gateway.deps import get_connection
from services.gateway.settings import GatewaySettings
from shared.events.catalogue.sagas import AbortSaga
from shared.events.codec import new_event
from shared.settings import Settings

pytestmark = pytest.mark.timeout(30)
OPS = {"X-API-Key": "ops-key"}
STATUSES = {"saga-running": "running", "saga-done": "completed", "saga-aborting": "aborting"}


class Sagas:
    """Answers ``SELECT * FROM sagas WHERE saga_id = %s`` from ``STATUSES``."""

    def execute(self, _query: Any, params: tuple[str, ...]) -> Sagas:
        self._row = {"saga_id": params[0], "status": STATUSES[params[0]]} if params[0] in STATUSES else None
        return self

    def fetchone(self) -> dict[str, Any] | None:
        return self._row


class RecordingBus:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, str]] = []

    def send(self, payload: Any, *, stream_id: str, event_id: uuid.UUID) -> Any:
        self.sent.append((payload, stream_id))
        return new_event(payload, producer="gateway", stream_id=stream_id, correlation_id=stream_id, event_id=event_id)


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


@pytest.fixture
def client(bus: RecordingBus) -> Iterator[TestClient]:
    keys = SecretStr("submit-key=alice:submit,ops-key=ops:approve,admin-key=root:admin")
    app: FastAPI = create_app(
        Settings(database_url=None), GatewaySettings.model_construct(api_keys=keys, allow_dev_key=False)
    )
    app.state.commands = bus

    def sagas() -> Iterator[Sagas]:
        yield Sagas()

    app.dependency_overrides[get_connection] = sagas
    yield TestClient(app)


def test_a_running_saga_is_aborted_with_the_callers_name_and_reason(client: TestClient, bus: RecordingBus) -> None:
    answer = client.post("/sagas/saga-running/abort", json={"reason": "wrong customer"}, headers=OPS)
    assert answer.status_code == 202, answer.text
    assert answer.json()["command"] == "AbortSaga" and answer.json()["saga_id"] == "saga-running"
    expected = AbortSaga(saga_id="saga-running", reason="wrong customer", requested_by="ops")
    assert bus.sent == [(expected, "saga-running")]


def test_the_body_is_optional(client: TestClient, bus: RecordingBus) -> None:
    assert client.post("/sagas/saga-running/abort", headers=OPS).status_code == 202
    assert bus.sent[0][0].reason == ""


def test_aborting_needs_the_approve_scope(client: TestClient, bus: RecordingBus) -> None:
    answer = client.post("/sagas/saga-running/abort", headers={"X-API-Key": "submit-key"})
    assert answer.status_code == 403 and "'approve' scope" in answer.json()["detail"]
    assert bus.sent == []


def test_an_unknown_saga_gets_404(client: TestClient, bus: RecordingBus) -> None:
    answer = client.post("/sagas/saga-nobody/abort", headers=OPS)
    assert answer.status_code == 404
    assert answer.json()["detail"] == "saga 'saga-nobody' is not in the read models"
    assert bus.sent == []


@pytest.mark.parametrize(
    ("saga_id", "why"),
    [("saga-done", "has finished: completed"), ("saga-aborting", "is already being aborted")],
)
def test_a_saga_that_is_not_running_gets_409_saying_why(
    client: TestClient, bus: RecordingBus, saga_id: str, why: str
) -> None:
    answer = client.post(f"/sagas/{saga_id}/abort", headers=OPS)
    assert answer.status_code == 409
    assert answer.json()["detail"] == f"saga {saga_id!r} {why}: nothing to abort"
    assert bus.sent == []


def test_a_reason_too_long_or_an_unknown_field_gets_422(client: TestClient, bus: RecordingBus) -> None:
    long = client.post("/sagas/saga-running/abort", json={"reason": "x" * 1001}, headers=OPS)
    assert long.status_code == 422 and "body.reason" in long.json()["message"]
    typo = client.post("/sagas/saga-running/abort", json={"reasn": "typo"}, headers=OPS)
    assert typo.status_code == 422 and "body.reasn: Extra inputs are not permitted" in typo.json()["message"]
    assert bus.sent == []
