"""`architect projections rebuild`."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from services.projector.crdt_rebuild import rebuild_shared_state
from services.projector.rebuild import rebuild
from shared.cli.context import console, fail, settings
from shared.db.connection import DatabaseNotConfigured, database_url

app = typer.Typer(help="Read models in Postgres.", no_args_is_help=True)


@app.command("rebuild")
def rebuild_command(batch_size: int = typer.Option(5000, help="Events per transaction")) -> None:
    """Drop the read models and replay every event topic from offset zero, with a progress bar; then the
    shared-state tables from the CRDT topic."""
    cfg = settings()
    try:
        url = database_url(cfg)
    except DatabaseNotConfigured as exc:
        fail(str(exc))
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("replaying events", total=None)

        def show(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = rebuild(cfg, url, batch_size=batch_size, progress=show)
    console.print(
        f"[green]rebuilt[/] {report.events_written} event(s) from {report.events_read} record(s) "
        f"in {report.seconds:.1f}s ({report.rate:,.0f} ev/s); skipped {report.skipped_invalid} invalid"
    )
    shared = rebuild_shared_state(cfg, url)
    console.print(
        f"[green]rebuilt[/] shared state: {shared.objects} object(s) from {shared.records} CRDT record(s) "
        f"in {shared.seconds:.1f}s"
    )
