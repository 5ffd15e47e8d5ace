"""The operator console: static HTML, CSS and JavaScript modules served by the gateway at ``/console/``.

No build step: the browser loads ``static/`` as it is. Every piece of data comes from the gateway's JSON API
with the API key the operator typed in (kept in ``sessionStorage``, sent as ``X-API-Key``), so the console has
exactly the rights of that key. The static files themselves hold no data and are served without a key.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
CONSOLE_PATH = "/console"


def install_console(app: FastAPI) -> None:
    """Serve the console at ``/console/`` and send ``/`` there."""
    app.mount(CONSOLE_PATH, StaticFiles(directory=STATIC_DIR, html=True), name="console")

    @app.get("/", include_in_schema=False)
    def to_console() -> RedirectResponse:
        return RedirectResponse(f"{CONSOLE_PATH}/")
