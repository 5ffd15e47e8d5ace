"""`architect`: operate Architect from a terminal."""

from __future__ import annotations

import typer

from shared.cli import (
    agent,
    agents,
    decisions,
    dlq,
    events,
    goals,
    kafka,
    locks,
    projections,
    sagas,
    schemas,
    state,
    streams,
    topics,
)

app = typer.Typer(help="Architect: an event-sourced control plane for fleets of AI agents.", no_args_is_help=True)
app.add_typer(topics.app, name="topics")
app.add_typer(goals.app, name="goals")
app.add_typer(sagas.app, name="sagas")
app.add_typer(decisions.app, name="decisions")
app.add_typer(locks.app, name="locks")
app.add_typer(state.app, name="state")
app.add_typer(events.app, name="events")
app.add_typer(streams.app, name="streams")
app.add_typer(dlq.app, name="dlq")
app.add_typer(projections.app, name="projections")
app.add_typer(schemas.app, name="schemas")
app.add_typer(agent.app, name="agent")
app.add_typer(agents.app, name="agents")
app.add_typer(kafka.app, name="kafka")


def run() -> None:
    app()


if __name__ == "__main__":
    run()
