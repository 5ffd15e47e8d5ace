"""Figure 2: how many envelopes one core encodes, and decodes with full validation, per second.

The sample is the realistic mix of ``bench.event_mix`` (TaskSucceeded with ~700-byte outputs, TaskCreated,
GoalSubmitted, GoalPlanned, heartbeats ...). Each operation runs over the whole sample several times; the table
shows the best and the median round, since other work on the machine only ever slows a round down.

    python -m bench.envelope_codec [--events 20000] [--rounds 5] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from bench.event_mix import event_stream
from bench.machine import describe_machine
from bench.report import Outcome, ResultTable, publish_results, rate, thousands
from shared.events.codec import decode, encode, new_event
from shared.events.envelope import Envelope

Operation = Callable[[Sequence[Any]], None]


def encode_all(envelopes: Sequence[Envelope[Any]]) -> None:
    """Serialise every envelope to the bytes written to Kafka."""
    for envelope in envelopes:
        encode(envelope)


def decode_all(records: Sequence[tuple[bytes, bytes]]) -> None:
    """Parse, upcast, validate and key-check every (key, value) as a consumer does."""
    for key, value in records:
        decode(value, key)


def round_trip_all(envelopes: Sequence[Envelope[Any]]) -> None:
    """Encode then decode every envelope."""
    for envelope in envelopes:
        decode(encode(envelope), envelope.stream_id.encode())


def build_all(envelopes: Sequence[Envelope[Any]]) -> None:
    """Wrap every payload in a new envelope, as producers do (envelope fields validated, ids and time drawn)."""
    for envelope in envelopes:
        new_event(
            envelope.payload,
            producer=envelope.producer,
            stream_id=envelope.stream_id,
            correlation_id=envelope.correlation_id,
        )


def timed_rounds(operation: Operation, items: Sequence[Any], rounds: int) -> list[float]:
    """Seconds taken by each of ``rounds`` passes of ``operation`` over ``items``."""
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        operation(items)
        seconds.append(time.perf_counter() - started)
    return seconds


def main(argv: list[str] | None = None) -> Outcome:
    """Run the figure, print it and return it."""
    parser = argparse.ArgumentParser(prog="python -m bench.envelope_codec", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="events in the sample (default 20000)")
    parser.add_argument("--rounds", type=int, default=5, help="passes over the sample per operation (default 5)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    machine = describe_machine()
    envelopes = list(event_stream(random.Random(args.seed), args.events))
    records = [(e.stream_id.encode(), encode(e)) for e in envelopes]
    total_bytes = sum(len(value) for _, value in records)
    count = len(envelopes)

    operations: list[tuple[str, str, Operation, Sequence[Any]]] = [
        ("encode", "model_dump_json -> bytes", encode_all, envelopes),
        ("decode", "JSON parse + upcast + validate + key check", decode_all, records),
        ("round_trip", "encode then decode", round_trip_all, envelopes),
        ("build", "new_event(payload) (produce-side validation)", build_all, envelopes),
    ]
    table = ResultTable(
        f"Envelope codec, one core: {thousands(count)} events of a realistic mix, "
        f"mean {total_bytes / count:,.0f} bytes, best and median of {args.rounds} rounds",
        ["operation", "what", "best events/s", "median events/s", "best MB/s", "us/event"],
        text_columns=2,
    )
    summary: dict[str, Any] = {"events": count, "mean_bytes": round(total_bytes / count, 1), "rounds": args.rounds}
    for name, what, operation, items in operations:
        seconds = timed_rounds(operation, items, args.rounds)
        best, median = rate(count, min(seconds)), rate(count, statistics.median(seconds))
        table.add(
            name,
            what,
            thousands(best),
            thousands(median),
            f"{rate(total_bytes, min(seconds)) / 1e6:.1f}",
            f"{1e6 / best:.1f}",
        )
        summary[f"{name}_per_s"] = round(best)
        summary[f"{name}_per_s_median"] = round(median)

    by_type: dict[str, list[int]] = defaultdict(list)
    for index, envelope in enumerate(envelopes):
        by_type[envelope.type].append(index)
    per_type = ResultTable(
        "Per event type (best of the rounds)",
        ["type", "share", "bytes", "encode us", "decode us", "encode/s", "decode/s"],
    )
    for event_type, indexes in sorted(by_type.items(), key=lambda item: -len(item[1])):
        group = [envelopes[i] for i in indexes]
        group_records = [records[i] for i in indexes]
        encode_s = min(timed_rounds(encode_all, group, args.rounds)) / len(group)
        decode_s = min(timed_rounds(decode_all, group_records, args.rounds)) / len(group)
        per_type.add(
            event_type,
            f"{100 * len(group) / count:.1f}%",
            f"{sum(len(r[1]) for r in group_records) / len(group):,.0f}",
            f"{1e6 * encode_s:.1f}",
            f"{1e6 * decode_s:.1f}",
            thousands(1 / encode_s),
            thousands(1 / decode_s),
        )
    return publish_results(Outcome("envelope_codec", machine, [table, per_type], summary))


if __name__ == "__main__":
    main()
