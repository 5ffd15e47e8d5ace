"""`architect topics create|list`."""

from __future__ import annotations

import typer
from confluent_kafka import KafkaException
from rich.table import Table

from shared.bus.bootstrap import admin_client, ensure_topics
from shared.bus.topics import TABLES, TOPICS
from shared.cli.context import console, fail, settings

app = typer.Typer(help="Create and inspect Architect's topics.", no_args_is_help=True)


@app.command("create")
def create(
    grow_partitions: bool = typer.Option(
        False,
        "--grow-partitions",
        help="Raise existing topics to the configured partition count. Keys move to other partitions: stop "
        "every service first and expect the faust services' tables to refuse to start until their changelogs match.",
    ),
) -> None:
    """Create every catalogued topic that is missing, and the faust tables' changelogs (idempotent); show them
    all."""
    try:
        states = ensure_topics(settings(), grow_partitions=grow_partitions)
    except KafkaException as exc:
        fail(f"could not create topics: {exc}")
    table = Table("topic", "partitions", "replication", "cleanup", "created now")
    for s in states:
        partitions = str(s.partitions)
        if s.partitions < s.wanted_partitions:
            partitions += f" (configured {s.wanted_partitions}: kept)"
        table.add_row(s.name, partitions, str(s.replication), s.cleanup_policy, "yes" if s.created else "")
    console.print(table)


@app.command("list")
def list_topics() -> None:
    """Every topic on the cluster; catalogued ones and the tables' changelogs show what they are keyed by."""
    try:
        metadata = admin_client(settings()).list_topics(timeout=15)
    except KafkaException as exc:
        fail(f"cannot reach Kafka: {exc}")
    keyed = {spec.name: spec.keyed_by for spec in TOPICS} | {table.changelog: table.keyed_by for table in TABLES}
    table = Table("topic", "partitions", "replication", "keyed by")
    for name in sorted(metadata.topics):
        topic = metadata.topics[name]
        first = next(iter(topic.partitions.values()), None)
        table.add_row(name, str(len(topic.partitions)), str(len(first.replicas) if first else 0), keyed.get(name, ""))
    console.print(table)
