"""Figure 3: how fast ``architect projections rebuild`` replays the event log into Postgres.

Publishes ``--events`` events of a realistic mix (many goals run to the end, as in
``tests/integration/projector_helpers.goal_stream``, with fresh ids) to the catalogued topics, then times
``services.projector.rebuild.rebuild`` into a freshly migrated database: Kafka fetch, decode and validation,
COPY into staging, INSERT .. SELECT into ``events``, read-model upserts, offsets, and the secondary indexes
built at the end. The baseline is a COPY of the very same ``events`` rows, already in Python memory, into a
plain table with the same columns and only a primary key (the median of three, after vacuuming the rebuilt
tables). Targets (issue "Event backbone"): at least 50,000 events/s, and at least 60% of the raw COPY rate.

    python -m bench.projection_rebuild [--events 1000000] [--batch-size 5000]
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

from bench.event_publishing import publish_events
from bench.infrastructure import bench_database, bench_kafka, postgres_description, say
from bench.machine import describe_machine, load_average
from bench.progress import ProgressLine
from bench.raw_copy import checkpoint, raw_copy_seconds, vacuum
from bench.report import Outcome, ResultTable, publish_results, rate, thousands
from services.projector.rebuild import REBUILT_TABLES, rebuild
from shared.bus.bootstrap import ensure_topics
from shared.db.connection import connect
from shared.db.schema import migrate
from shared.settings import Settings

TARGET_EVENTS_PER_S = 50_000
TARGET_SHARE_OF_RAW_COPY = 0.60
RAW_COPY_RUNS = 3
COUNTED_TABLES = ("events", "goals", "tasks", "agents", "approvals")


def row_counts(url: str) -> dict[str, int]:
    """Rows in the event log and in each read model after the rebuild."""
    with connect(url, statement_timeout_ms=0) as conn:
        return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in COUNTED_TABLES}  # type: ignore[index]


def main(argv: list[str] | None = None) -> Outcome:
    """Run the figure, print it and return it."""
    parser = argparse.ArgumentParser(prog="python -m bench.projection_rebuild", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events to publish and rebuild from")
    parser.add_argument("--batch-size", type=int, default=5000, help="rebuild batch size (rebuild's default)")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    events = args.events

    machine = describe_machine()
    summary: dict[str, Any] = {"events": events, "batch_size": args.batch_size}
    with bench_kafka() as broker, bench_database() as url:
        settings = Settings(kafka_bootstrap_servers=broker.bootstrap_servers, database_url=url)
        ensure_topics(settings)
        say(f"publishing {events:,} events ...")
        published = publish_events(settings, events, seed=args.seed, progress=ProgressLine("published"))
        with connect(url, autocommit=True) as conn:
            migrate(conn)
        database = postgres_description(url)
        checkpoint(url)

        say(f"rebuilding from {events:,} events (batch {args.batch_size}) ...")
        load_before = load_average()
        report = rebuild(settings, url, batch_size=args.batch_size, progress=ProgressLine("rebuilt"))
        load_after = load_average()
        counts = row_counts(url)
        # A shared broker ($ARCHITECT_KAFKA_BOOTSTRAP_SERVERS) may hold other events too: the rebuild replays all.
        if report.events_read < events or counts["events"] < events:
            raise RuntimeError(f"rebuild read {report.events_read} and logged {counts['events']} of {events} events")

        # The rebuilt tables' first autovacuum would otherwise run during the baseline (a 1,000,000-row insert
        # triggers one), and one COPY alone varied 17-28 s between runs: vacuum first, take the median of three.
        say("vacuuming the rebuilt tables, then 3 raw COPYs of the same rows ...")
        vacuum(url, REBUILT_TABLES)
        rows = list(published.rows())
        raw_runs = sorted(raw_copy_seconds(url, rows) for _ in range(RAW_COPY_RUNS))
        raw_seconds = statistics.median(raw_runs)
        rebuild_rate, raw_rate = report.rate, rate(events, raw_seconds)
        share = rebuild_rate / raw_rate if raw_rate else 0.0
        missed = rebuild_rate < TARGET_EVENTS_PER_S or share < TARGET_SHARE_OF_RAW_COPY

        main_table = ResultTable(
            f"Projection rebuild: {thousands(events)} events of a realistic mix "
            f"(mean {published.value_bytes / events:,.0f} bytes), batch {args.batch_size}",
            ["step", "seconds", "events/s", "MB/s", "target", "result"],
        )
        main_table.add(
            "publish (encode + produce, acks=all)",
            f"{published.seconds:.1f}",
            thousands(rate(events, published.seconds)),
            f"{rate(published.value_bytes, published.seconds) / 1e6:.1f}",
            "",
            "",
        )
        main_table.add(
            "rebuild (Kafka -> events + read models + indexes)",
            f"{report.seconds:.1f}",
            thousands(rebuild_rate),
            f"{rate(published.value_bytes, report.seconds) / 1e6:.1f}",
            f">= {thousands(TARGET_EVENTS_PER_S)}",
            "met" if rebuild_rate >= TARGET_EVENTS_PER_S else "MISSED",
        )
        main_table.add(
            f"raw COPY of the same rows (plain table, PK only; median of {RAW_COPY_RUNS})",
            f"{raw_seconds:.1f}",
            thousands(raw_rate),
            f"{rate(published.value_bytes, raw_seconds) / 1e6:.1f}",
            "",
            "",
        )
        main_table.add(
            "rebuild / raw COPY",
            "",
            f"{100 * share:.1f}%",
            "",
            f">= {100 * TARGET_SHARE_OF_RAW_COPY:.0f}%",
            "met" if share >= TARGET_SHARE_OF_RAW_COPY else "MISSED",
        )
        main_table.notes += [
            f"{database}",
            "Raw COPY runs: " + ", ".join(f"{seconds:.1f} s" for seconds in raw_runs) + ".",
            "Rows after the rebuild: " + ", ".join(f"{t} {thousands(n)}" for t, n in counts.items()),
            f"Load average before/after the rebuild: {load_before[0]:.2f} / {load_after[0]:.2f} (1 min).",
        ]
        summary |= {
            "mean_event_bytes": round(published.value_bytes / events, 1),
            "publish_per_s": round(rate(events, published.seconds)),
            "rebuild_seconds": round(report.seconds, 2),
            "rebuild_per_s": round(rebuild_rate),
            "raw_copy_seconds": round(raw_seconds, 2),
            "raw_copy_runs_seconds": [round(seconds, 2) for seconds in raw_runs],
            "raw_copy_per_s": round(raw_rate),
            "rebuild_share_of_raw_copy": round(share, 3),
            "target_per_s": TARGET_EVENTS_PER_S,
            "target_share": TARGET_SHARE_OF_RAW_COPY,
            "targets_met": not missed,
            "rows": counts,
            "load_average_rebuild": [load_before[0], load_after[0]],
        }
    return publish_results(Outcome("projection_rebuild", machine, [main_table], summary))


if __name__ == "__main__":
    main()
