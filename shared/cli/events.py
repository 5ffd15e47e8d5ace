"""`architect events publish|tail`."""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import typer
from confluent_kafka import Consumer
from rich.markup import escape

from shared.bus.client_config import kafka_config
from shared.bus.producer import DeliveryError, EventProducer
from shared.bus.topics import EVENT_TOPICS
from shared.cli.context import console, errors, fail, settings
from shared.events.codec import DecodeError, decode, encode
from shared.events.envelope import Envelope

app = typer.Typer(help="Publish and watch events.", no_args_is_help=True)


def parse_documents(text: str) -> list[Any]:
    """A JSON object, a JSON array of objects, or JSON Lines."""
    stripped = text.strip()
    if not stripped:
        return []
    try:
        document = json.loads(stripped)
        return document if isinstance(document, list) else [document]
    except json.JSONDecodeError:
        pass
    documents = []
    for number, line in enumerate(stripped.splitlines(), start=1):
        if line.strip():
            try:
                documents.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"line {number}: not JSON ({exc.msg})") from None
    return documents


def validate_all(documents: list[Any], max_bytes: int) -> tuple[list[Envelope[Any]], list[str]]:
    """Every document decoded and validated; problems listed per record (1-based)."""
    envelopes, problems = [], []
    for number, document in enumerate(documents, start=1):
        try:
            envelopes.append(decode(json.dumps(document).encode(), max_bytes=max_bytes))
        except DecodeError as exc:
            problems.append(f"record {number}: {exc.reason}: {exc.message}")
    return envelopes, problems


@app.command("publish")
def publish(source: str = typer.Argument(..., help="A file of envelopes (object, array or JSON Lines), or -")) -> None:
    """Validate every envelope first; publish all of them only if all are valid."""
    text = sys.stdin.read() if source == "-" else _read(Path(source))
    cfg = settings()
    try:
        documents = parse_documents(text)
    except ValueError as exc:
        fail(f"{source}: {exc}")
    if not documents:
        fail(f"{source}: no events found")
    envelopes, problems = validate_all(documents, cfg.max_event_bytes)
    if problems:
        for problem in problems:
            console.print(f"[red]✗[/] {problem}")
        fail(f"{len(problems)} of {len(documents)} record(s) invalid; nothing was published")
    producer = EventProducer(cfg, client_id="architect-cli")
    for envelope in envelopes:
        producer.publish(envelope)
    try:
        producer.flush(30)
    except DeliveryError as exc:
        fail(f"Kafka did not confirm delivery: {exc}")
    console.print(f"[green]published {len(envelopes)} event(s)[/]")


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")


@app.command("tail")
def tail(
    type_: str | None = typer.Option(None, "--type", help="Only this event type"),
    correlation: str | None = typer.Option(None, "--correlation", help="Only events of this goal/run"),
    from_beginning: bool = typer.Option(False, "--from-beginning", help="Start at the oldest event"),
    limit: int = typer.Option(0, help="Stop after this many matching events (0: no limit)"),
    timeout: float = typer.Option(0, help="Stop after this many seconds (0: until Ctrl-C)"),
    as_json: bool = typer.Option(False, "--json", help="Print whole envelopes as JSON lines"),
) -> None:
    """Follow every event topic and print matching events as they arrive."""
    consumer = Consumer(
        kafka_config(settings())
        | {
            "group.id": f"architect-tail-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest" if from_beginning else "latest",
        }
    )
    consumer.subscribe(list(EVENT_TOPICS))
    shown, deadline = 0, time.monotonic() + timeout if timeout else None
    try:
        while deadline is None or time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.5):
                if msg.error() is not None:
                    continue
                try:
                    e = decode(msg.value(), msg.key())
                except DecodeError as exc:
                    where = f"{msg.topic()}[{msg.partition()}]@{msg.offset()}"
                    # On stderr: stdout carries only matching events (JSON lines stay parseable).
                    errors.print(f"[red]invalid record {escape(where)}: {escape(str(exc))}[/]")
                    continue
                if (type_ and e.type != type_) or (correlation and e.correlation_id != correlation):
                    continue
                if as_json:
                    print(encode(e).decode(), flush=True)
                else:
                    console.print(
                        f"{e.occurred_at:%H:%M:%S.%f}"[:-3]
                        + f"  [cyan]{e.type:<20}[/] "
                        + escape(f"stream={e.stream_id} corr={e.correlation_id} id={e.event_id}")
                    )
                shown += 1
                if limit and shown >= limit:
                    return
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
