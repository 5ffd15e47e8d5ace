"""What every CLI command needs: settings, a console, and clean failures."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

from shared.settings import Settings

console = Console()
errors = Console(stderr=True)


def settings() -> Settings:
    return Settings()


def fail(message: str, code: int = 1) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)
