"""`architect schemas export DIR`."""

from __future__ import annotations

from pathlib import Path

import typer

from shared.cli.context import console
from shared.events.schema_export import export_schemas

app = typer.Typer(help="JSON Schemas of the event catalogue.", no_args_is_help=True)


@app.command("export")
def export(directory: Path) -> None:
    """Write one JSON Schema per event/command type, plus index.json."""
    written = export_schemas(directory)
    console.print(f"wrote {len(written)} file(s) to {directory}")
