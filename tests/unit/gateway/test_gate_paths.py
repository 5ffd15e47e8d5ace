"""Real task ids are ``goal/step``: the approval routes must address them (they answered 404 before)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from shared.settings import Settings


@pytest.fixture
def client() -> TestClient:
    keys = SecretStr("read-key=reader")
    app = create_app(Settings(database_url=None), GatewaySettings.model_construct(api_keys=keys, allow_dev_key=False))
    return TestClient(app)


@pytest.mark.parametrize("task", ["g-1/deploy_staging", "g-1/r2/deploy_staging", "g-1:build"])
@pytest.mark.parametrize("verb", ["approve", "reject"])
def test_a_task_id_with_slashes_reaches_the_gate_route(client: TestClient, task: str, verb: str) -> None:
    # A key without the approve scope: 403 proves the route matched (an unmatched path would be 404).
    response = client.post(f"/goals/g-1/approvals/{task}/{verb}", headers={"X-API-Key": "read-key"})
    assert response.status_code == 403, response.text
    assert "approve" in response.json()["detail"]
