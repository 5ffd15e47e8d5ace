"""The goal-path benchmarks of issue 3 on one stack, written to ``bench/results/goal_path.md``.

1. A quick raw produce ceiling of the same broker (1 KiB records, the services' producer settings).
2. Assignment latency (TaskCreated -> TaskAssigned) at 100 tasks/s offered (``bench.assignment_latency``).
3. End-to-end throughput of five-no-op-task goals, 60 s after a warm-up (``bench.goal_throughput``).

    python -m bench.goal_path [--seconds 60] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from bench.assignment_latency import LatencyResult, measure_assignment_latency
from bench.goal_path_stack import (
    FLEET_SIZE,
    TASKS_PER_GOAL,
    CpuSample,
    GoalPathStack,
    add_partitions_option,
    cpu_shares,
    goal_path_stack,
    say,
)
from bench.goal_throughput import IN_FLIGHT, ThroughputResult, measure_throughput
from bench.machine import describe_machine
from shared.bus.client_config import kafka_config
from shared.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results" / "goal_path.md"
BACKBONE_RESULTS = RESULTS.with_name("backbone.md")
THROUGHPUT_TARGET = 500.0
P99_TARGET_MS = 50.0
#: A hand-written section of the results file that a new run keeps (profiles and conclusions).
ANALYSIS_HEADING = "## Where the time goes"


@dataclass(frozen=True)
class Ceiling:
    records: int
    records_per_s: float

    def line(self) -> str:
        return (
            f"raw produce     {self.records_per_s:,.0f} records/s of 1 KiB (confluent-kafka alone, acks=all, "
            f"idempotent, lz4, linger 5 ms, 6 partitions, {self.records:,} records, same broker)"
        )


def produce_ceiling(settings: Settings, records: int = 100_000) -> Ceiling:
    """How fast one confluent-kafka producer gets 1 KiB records acknowledged by this broker."""
    topic = f"bench.goal-path-ceiling.{uuid.uuid4().hex[:8]}"
    admin = AdminClient(kafka_config(settings))
    admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])[topic].result(30)
    producer = Producer(
        kafka_config(settings) | {"acks": "all", "enable.idempotence": True, "compression.type": "lz4", "linger.ms": 5}
    )
    values = [os.urandom(256).hex().encode() * 2 for _ in range(256)]  # 1 KiB, not trivially compressible
    started = time.perf_counter()
    for number in range(records):
        while True:
            try:
                producer.produce(topic, key=str(number % 10_000).encode(), value=values[number % len(values)])
                break
            except BufferError:
                producer.poll(0.05)
        if number % 1000 == 0:
            producer.poll(0)
    producer.flush(120)
    elapsed = time.perf_counter() - started
    admin.delete_topics([topic])
    return Ceiling(records, records / elapsed)


def backbone_ceiling_lines() -> list[str]:
    """The lines of the backbone benchmark's results that mention the produce ceiling, when they exist."""
    if not BACKBONE_RESULTS.is_file():
        return []
    return [line for line in BACKBONE_RESULTS.read_text().splitlines() if "produce" in line.lower()][:5]


def report(
    ceiling: Ceiling,
    latency: LatencyResult,
    throughput: ThroughputResult,
    load: tuple[float, ...],
    services: list[str],
    partitions: int,
) -> str:
    ratio = throughput.tasks_per_s / ceiling.records_per_s
    events_ratio = throughput.records_per_s / ceiling.records_per_s
    tput_verdict = "met" if throughput.tasks_per_s >= THROUGHPUT_TARGET else "NOT met"
    p99_verdict = "met" if latency.p99_ms < P99_TARGET_MS else "NOT met"
    backbone = backbone_ceiling_lines()
    machine = describe_machine()
    lines = [
        "# Goal-path benchmarks (issue 3)",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}",
        f"- machine: {machine.nproc} cores, {machine.cpu_model}; Python {machine.python_version}, librdkafka "
        f"{machine.librdkafka_version}",
        f"- load average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min), the stack's own "
        "included (it keeps both cores busy); whatever else ran on the machine took its share of the same cores.",
        f"- stack: one KRaft broker of its own ({partitions} partition(s) per topic, one instance of each service), "
        f"embedded Postgres and the services {', '.join(services)}; the "
        f"agent runtime hosts {FLEET_SIZE} scripted agents of zero latency (`bench/fleets/zero_latency.yaml`); "
        f"goals of {TASKS_PER_GOAL} independent no-op tasks (`bench/methods/noop_goal.yaml`), submitted as SubmitGoal "
        "commands on the goal command topic.",
        "- run: `python -m bench.goal_path` (or `bench.goal_throughput` / `bench.assignment_latency` alone).",
        "",
        "## End-to-end throughput",
        "",
        f"Target >= {THROUGHPUT_TARGET:.0f} tasks/s sustained for 60 s: **{tput_verdict}** "
        f"({throughput.tasks_per_s:,.1f} tasks/s).",
        "",
        "```",
        *throughput.lines(),
        ceiling.line(),
        f"ratio           {ratio:.2%} of the raw ceiling in tasks/s; the stack's own records "
        f"({throughput.records_per_task:.1f} per task) are {events_ratio:.1%} of it",
        "```",
        "",
        *(
            ["Backbone benchmark (bench/results/backbone.md):", "", *[f"    {b}" for b in backbone], ""]
            if backbone
            else []
        ),
        "## Assignment latency",
        "",
        f"Target p99 < {P99_TARGET_MS:.0f} ms at 100 tasks/s: **{p99_verdict}** (p99 {latency.p99_ms:,.0f} ms).",
        "",
        "```",
        *latency.lines(),
        "```",
        "",
    ]
    return "\n".join(lines)


def kept_analysis(path: Path) -> str:
    """The hand-written analysis section of an existing results file (from its heading to the end), or ''."""
    if not path.is_file():
        return ""
    text = path.read_text()
    start = text.find(ANALYSIS_HEADING)
    return "\n" + text[start:] if start >= 0 else ""


#: The stack counts as quiet (done with the throughput run's backlog) below this many busy cores in all.
QUIET_CORES = 0.3


def wait_until_quiet(stack: GoalPathStack, *, at_least_s: float = 20.0, at_most_s: float = 180.0) -> str:
    """Wait until the stack's processes together keep less than ``QUIET_CORES`` busy over 2 s (at least
    ``at_least_s``, at most ``at_most_s``). A fixed pause measured the latency of the next run while the projector
    was still catching up on the throughput run's records: p99 552 against 203 ms on a fresh stack."""
    processes = stack.processes()
    started = time.monotonic()
    time.sleep(at_least_s)
    busy = float("inf")
    while time.monotonic() - started < at_most_s:
        stack.check()  # a service that died is not quiet: fail here, not in the measurement
        before = CpuSample.take(processes)
        time.sleep(2.0)
        busy = sum(cpu_shares(before, CpuSample.take(processes)).values())
        if busy < QUIET_CORES:
            return f"  quiet after {time.monotonic() - started:.0f} s ({busy:.2f} cores busy)"
    return f"  still {busy:.2f} cores busy after {at_most_s:.0f} s: measuring anyway"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.goal_path", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="measured seconds of each benchmark")
    parser.add_argument("--no-write", action="store_true", help=f"print only, do not write {RESULTS.name}")
    add_partitions_option(parser)
    args = parser.parse_args(argv)
    with goal_path_stack(partitions=args.partitions) as stack:
        say("raw produce ceiling of this broker ...")
        ceiling = produce_ceiling(stack.settings)
        say(ceiling.line())
        # Throughput first: its closed loop leaves at most 2,000 tasks to finish, while an overloaded latency run
        # leaves a backlog that a throughput window after it would count as its own CPU and records.
        throughput = measure_throughput(stack, seconds=args.seconds, warm_up_s=15.0, in_flight=IN_FLIGHT)
        print("\n".join(throughput.lines()), flush=True)
        say("letting the throughput run's backlog drain (the projector's, the scheduler's) ...")
        say(wait_until_quiet(stack))
        latency = measure_assignment_latency(stack, tasks_per_s=100.0, seconds=args.seconds, warm_up_s=10.0)
        print("\n".join(latency.lines()), flush=True)
        services = stack.services.names()
    text = report(ceiling, latency, throughput, os.getloadavg(), services, args.partitions)
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text + kept_analysis(RESULTS))
        say(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
