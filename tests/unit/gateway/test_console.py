"""The console is served by the gateway as static files: no key needed for the files, every module they import
exists and is served as JavaScript; the data behind it still needs a key."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from services.gateway.app import create_app
from services.gateway.console import STATIC_DIR
from services.gateway.settings import GatewaySettings
from shared.settings import Settings

IMPORT = re.compile(r"""^import .* from "(\.{1,2}/[^"]+)";$""", re.MULTILINE)


@pytest.fixture
def client() -> TestClient:
    keys = SecretStr("read-key=reader")
    app = create_app(Settings(database_url=None), GatewaySettings.model_construct(api_keys=keys, allow_dev_key=False))
    return TestClient(app)


def test_the_root_sends_the_browser_to_the_console(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/console/"


def test_the_page_is_served_without_a_key_and_loads_its_module(client: TestClient) -> None:
    response = client.get("/console/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="js/main.js">' in response.text
    assert 'id="api-key"' in response.text


def test_every_imported_module_exists_and_is_served_as_javascript(client: TestClient) -> None:
    modules = sorted(STATIC_DIR.rglob("*.js"))
    assert modules, "no JavaScript in the console"
    for module in modules:
        for target in IMPORT.findall(module.read_text()):
            assert (module.parent / target).resolve().is_file(), f"{module.name} imports missing {target}"
        response = client.get(f"/console/{module.relative_to(STATIC_DIR).as_posix()}")
        assert response.status_code == 200, module
        assert "javascript" in response.headers["content-type"], response.headers["content-type"]


def test_no_module_builds_markup_from_strings() -> None:
    # API values reach the page only as text nodes: innerHTML with data would let a goal title inject script.
    for module in STATIC_DIR.rglob("*.js"):
        assert "innerHTML" not in module.read_text(), module


def test_the_data_behind_the_console_still_needs_a_key(client: TestClient) -> None:
    assert client.get("/goals").status_code == 401
    assert client.post("/dead-letters/0/redrive").status_code == 401
    assert client.get("/goals/g-1/replay").status_code == 401
