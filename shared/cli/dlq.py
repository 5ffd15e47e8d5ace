"""`architect dlq list|show|redrive`: inspect dead letters on the topic and send them back."""

from __future__ import annotations

import typer
from confluent_kafka import KafkaException
from rich.markup import escape
from rich.table import Table

from shared.bus.dead_letters import DeadLetter, redrive, redriven_offset
from shared.bus.producer import DeliveryError, EventProducer
from shared.bus.reader import read_to_end
from shared.bus.topics import DEAD_LETTERS
from shared.cli.context import console, fail, settings

app = typer.Typer(help="Dead letters: what was rejected, why, and re-drive.", no_args_is_help=True)


def load_letters() -> list[DeadLetter]:
    try:
        # Re-drive markers on the topic name a letter; they are not letters themselves.
        records = read_to_end(settings(), [DEAD_LETTERS])
        return [DeadLetter.from_record(r) for r in records if redriven_offset(r) is None]
    except (KafkaException, TimeoutError) as exc:
        fail(f"could not read {DEAD_LETTERS}: {exc}")


@app.command("list")
def list_letters(
    reason: str | None = typer.Option(None, help="Only this reason"),
    limit: int = typer.Option(50, help="Show at most this many, newest last"),
) -> None:
    """Dead letters with their reason and source position."""
    letters = [d for d in load_letters() if reason is None or d.reason == reason]
    table = Table("offset", "reason", "source", "group", "error", title=f"{len(letters)} dead letter(s)")
    for d in letters[-limit:]:
        table.add_row(
            str(d.offset),
            escape(d.reason),
            escape(f"{d.source_topic}[{d.source_partition}]@{d.source_offset}"),
            escape(d.consumer_group),
            escape(d.error[:80]),
        )
    console.print(table)


@app.command("show")
def show(offset: int) -> None:
    """One dead letter in full: headers, error and the original bytes."""
    letter = next((d for d in load_letters() if d.offset == offset), None)
    if letter is None:
        fail(f"no dead letter at offset {offset}")
    # Everything after the labels came from a record or an exception: print it as text, never as markup.
    console.print(f"[bold]offset[/] {letter.offset}\n[bold]reason[/] {escape(letter.reason)}")
    console.print(f"[bold]error[/] {escape(letter.error)}")
    source = f"{letter.source_topic}[{letter.source_partition}]@{letter.source_offset}"
    console.print(f"[bold]source[/] {escape(source)} (group {escape(letter.consumer_group)})")
    console.print(f"[bold]key[/] {escape(repr(letter.key))}")
    headers = [(k, v.decode(errors="replace")) for k, v in letter.original_headers]
    console.print(f"[bold]headers[/] {escape(str(headers))}")
    console.print("[bold]value[/]")
    console.print((letter.value or b"").decode(errors="replace"), highlight=False, markup=False)


@app.command("redrive")
def redrive_letters(
    offsets: list[int] = typer.Argument(None, help="Dead-letter offsets to send back"),
    all_: bool = typer.Option(False, "--all", help="Every dead letter (with --reason: every one of that reason)"),
    reason: str | None = typer.Option(None, help="With --all: only this reason"),
) -> None:
    """Publish the original bytes back to their source topic (after fixing the consumer or the data)."""
    letters = load_letters()
    if all_:
        chosen = [d for d in letters if reason is None or d.reason == reason]
    elif offsets:
        by_offset = {d.offset: d for d in letters}
        missing = [o for o in offsets if o not in by_offset]
        if missing:
            fail(f"no dead letter at offset(s) {missing}")
        chosen = [by_offset[o] for o in offsets]
    else:
        fail("name dead-letter offsets, or use --all")
    producer = EventProducer(settings(), client_id="architect-cli-redrive")
    for letter in chosen:
        redrive(producer, letter)
    try:
        producer.flush(30)
    except DeliveryError as exc:
        fail(f"re-drive not confirmed: {exc}")
    console.print(f"[green]re-drove {len(chosen)} dead letter(s)[/]")
