"""`architect streams replay --correlation ID`: one goal's ordered timeline and causal tree, read from Kafka."""

from __future__ import annotations

import typer
from confluent_kafka import KafkaException
from rich.table import Table

from shared.bus.reader import read_to_end
from shared.bus.topics import EVENT_TOPICS
from shared.cli.context import console, fail, settings
from shared.events.causality import causal_forest, render_forest, timeline
from shared.events.codec import DecodeError, decode

app = typer.Typer(help="Replay event streams from Kafka.", no_args_is_help=True)


@app.command("replay")
def replay(correlation: str = typer.Option(..., "--correlation", help="The goal or run id")) -> None:
    """Scan every event topic (the log, not Postgres) for the events of one goal and show them."""
    events = []
    try:
        for record in read_to_end(settings(), EVENT_TOPICS):
            try:
                envelope = decode(record.value, record.key)
            except DecodeError:
                continue
            if envelope.correlation_id == correlation:
                events.append(envelope)
    except (KafkaException, TimeoutError) as exc:
        fail(f"could not read the event topics: {exc}")
    if not events:
        fail(f"no events with correlation id {correlation!r}")
    table = Table("#", "time", "type", "producer", "stream", "caused by", title=f"timeline of {correlation}")
    ordered = timeline(events)
    for number, e in enumerate(ordered, start=1):
        table.add_row(
            str(number),
            f"{e.occurred_at:%H:%M:%S.%f}"[:-3],
            e.type,
            e.producer,
            e.stream_id,
            str(e.causation_id or "")[:8],
        )
    console.print(table)
    console.print("[bold]causal tree[/]")
    for line in render_forest(causal_forest(ordered)):
        console.print(line, highlight=False, markup=False)  # "[producer]" is text, not a style
