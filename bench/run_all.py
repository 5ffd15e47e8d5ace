"""Run every backbone benchmark in turn, print a headline table and write the results as markdown.

    python -m bench.run_all [--quick] [--output bench/results/backbone.md]

``--quick`` runs each benchmark at a tenth of its size (a smoke run; the markdown is then not written unless
``--output`` is given).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench import envelope_codec, kafka_ceiling, projection_rebuild
from bench.infrastructure import say
from bench.machine import describe_machine, load_average
from bench.report import Outcome, ResultTable, thousands

RESULTS = Path(__file__).resolve().parent / "results" / "backbone.md"
#: Hand-written next to the results: the rebuild's profile and optimisations.
PROFILE_NOTE = "rebuild_profile.md"

#: (name, entry point, arguments of the full run, arguments of a quick run)
BENCHMARKS: list[tuple[str, Callable[[list[str]], Outcome], list[str], list[str]]] = [
    ("kafka_ceiling", kafka_ceiling.main, [], ["--messages", "50000"]),
    ("envelope_codec", envelope_codec.main, [], ["--events", "2000", "--rounds", "3"]),
    ("projection_rebuild", projection_rebuild.main, [], ["--events", "100000"]),
]


def headline(outcomes: Sequence[Outcome]) -> ResultTable:
    """The figures the README quotes, one row each, from the benchmarks' summaries."""
    found = {outcome.bench: outcome.summary for outcome in outcomes}
    table = ResultTable("Backbone figures", ["figure", "value", "target", "result"], text_columns=1)
    if ceiling := found.get("kafka_ceiling"):
        for phase in ("produce", "consume"):
            table.add(
                f"Kafka {phase}, 1 KB events, confluent-kafka alone",
                f"{thousands(ceiling[f'{phase}_msgs_per_s'])} events/s = {ceiling[f'{phase}_mb_per_s']:.1f} MB/s",
                "",
                "",
            )
    if codec := found.get("envelope_codec"):
        for operation, what in (("encode", "encode"), ("decode", "decode + validate"), ("round_trip", "round trip")):
            table.add(f"Envelope {what}, one core", f"{thousands(codec[f'{operation}_per_s'])} events/s", "", "")
    if rebuild := found.get("projection_rebuild"):
        target, share_target = rebuild["target_per_s"], rebuild["target_share"]
        table.add(
            f"Projection rebuild of {thousands(rebuild['events'])} events into Postgres",
            f"{thousands(rebuild['rebuild_per_s'])} events/s",
            f">= {thousands(target)} events/s",
            "met" if rebuild["rebuild_per_s"] >= target else "missed",
        )
        table.add("Raw COPY of the same rows", f"{thousands(rebuild['raw_copy_per_s'])} events/s", "", "")
        share = rebuild["rebuild_share_of_raw_copy"]
        table.add(
            "Rebuild / raw COPY",
            f"{100 * share:.0f}%",
            f">= {100 * share_target:.0f}%",
            "met" if share >= share_target else "missed",
        )
    return table


def markdown(outcomes: Sequence[Outcome], load_start: Sequence[float], load_end: Sequence[float]) -> str:
    """The results document: when and where, the headline table, then every benchmark's own tables."""
    machine = outcomes[0].machine
    lines = [
        "# Backbone benchmarks",
        "",
        f"Measured {machine.date} with `python -m bench.run_all` (`make bench`).",
        "",
        f"- Machine: {machine.nproc} cores ({machine.cpu_model}), Kafka {machine.kafka_version} (one local broker), "
        f"librdkafka {machine.librdkafka_version}, Python {machine.python_version}.",
        f"- Load average (1/5/15 min) at the start {' / '.join(f'{x:.2f}' for x in load_start)}, at the end "
        f"{' / '.join(f'{x:.2f}' for x in load_end)}. Other processes (other test suites, their Kafka brokers and "
        "Postgres servers) shared the 2 cores during the run, and the broker and Postgres ran on the same cores "
        "as the benchmark itself, so these figures are lower bounds for a dedicated machine.",
        "",
        headline(outcomes).markdown(),
        "",
        f"Where the rebuild's time goes, what was optimised and what is left: [{PROFILE_NOTE}]({PROFILE_NOTE}).",
    ]
    for outcome in outcomes:
        lines += ["", f"## bench.{outcome.bench}", ""]
        for table in outcome.tables:
            lines += [table.markdown(), ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> list[Outcome]:
    parser = argparse.ArgumentParser(prog="python -m bench.run_all", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes, for a smoke run")
    parser.add_argument("--output", type=Path, help=f"markdown results file (default {RESULTS}, unless --quick)")
    args = parser.parse_args(argv)
    output = args.output or (None if args.quick else RESULTS)

    load_start = load_average()
    outcomes = []
    started = time.perf_counter()
    for number, (name, run, full, quick) in enumerate(BENCHMARKS, start=1):
        say(f"[{number}/{len(BENCHMARKS)}] bench.{name} ({time.perf_counter() - started:.0f}s elapsed)")
        outcomes.append(run(quick if args.quick else full))
    load_end = load_average()

    print()
    print(f"All benchmarks done in {time.perf_counter() - started:.0f}s on {describe_machine().nproc} cores.")
    print(headline(outcomes).render())
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(markdown(outcomes, load_start, load_end))
        print(f"\nResults written to {output}")
    sys.stdout.flush()
    return outcomes


if __name__ == "__main__":
    main()
    # The goal-path benchmarks of issue 3 run a whole stack of their own (bench/results/goal_path.md).
    from bench import goal_path

    goal_path.main(["--seconds", "10", "--no-write"] if "--quick" in sys.argv else [])
