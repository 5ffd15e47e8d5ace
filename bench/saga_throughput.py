"""Saga throughput: six-step sagas per second with scripted zero-latency agents.

    python -m bench.saga_throughput [--seconds 60] [--in-flight 50] [--no-write]

The stack of ``bench.goal_path_stack`` on a broker of its own ("bench-sagas" on 127.0.0.1:19792, clean storage)
with the saga definitions of ``bench/sagas``: ``bench_six_steps`` runs six no-op steps one after another, each a
task the assigner gives to one of 20 scripted agents of zero latency (``bench/fleets/zero_latency.yaml``).

*Closed loop*: ``--in-flight`` sagas are kept running (a StartSaga for each one that ends); after 10 s of
warm-up, sagas/s = SagaCompleted records whose Kafka timestamp falls in the ``--seconds`` window, divided by
it. *Latency*: StartSaga published -> SagaCompleted written, for the sagas started in the window, and for 10
sagas run one at a time on the idle stack (the floor: six steps in a row, nothing queued).
"""

from __future__ import annotations

import argparse
import os
import queue
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.assignment_latency import percentile
from bench.event_watch import EventWatch
from bench.goal_path_stack import CpuSample, GoalPathStack, cpu_shares, goal_path_stack, say
from bench.workload import SAGA_STEPS, SAGAS_DIR, start_saga
from shared.bus.producer import EventProducer
from shared.bus.topics import SAGAS_EVENTS
from shared.events.codec import new_event

RESULTS = Path(__file__).resolve().parent / "results" / "sagas.md"
ANALYSIS_HEADING = "## Reading"
KAFKA_NAME = "bench-sagas"
KAFKA_PORT = 19792
DATABASE = "bench_sagas"
TERMINAL = ("SagaCompleted", "SagaCompensated", "SagaFailed")
WARM_UP_S = 10.0


class SagaRuns:
    """Starts sagas and hears how they end (through an ``EventWatch`` on the saga events)."""

    def __init__(self, stack: GoalPathStack, run: str) -> None:
        self.run = run
        self.started: dict[str, float] = {}
        self.ended: dict[str, tuple[str, float]] = {}
        self.endings: queue.Queue[str] = queue.Queue()
        self._producer = EventProducer(stack.settings, client_id=f"bench-sagas-{run}")
        self._watch = EventWatch(stack.settings, [SAGAS_EVENTS], self._on_record)

    def _on_record(self, _topic: str, at: float, envelope: dict[str, Any]) -> None:
        saga_id = str(envelope.get("stream_id"))
        if envelope.get("type") in TERMINAL and saga_id in self.started and saga_id not in self.ended:
            self.ended[saga_id] = (str(envelope["type"]), at)
            self.endings.put(saga_id)

    def start(self, count: int = 1) -> None:
        for _ in range(count):
            saga_id = f"{self.run}-{len(self.started)}"
            self.started[saga_id] = time.time()
            self._producer.publish(
                new_event(start_saga(saga_id), producer="bench", stream_id=saga_id, correlation_id=saga_id)
            )
        self._producer.flush(30)

    def wait_ending(self, timeout_s: float) -> str | None:
        try:
            return self.endings.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._watch.close()
        self._producer.close()


@dataclass
class Throughput:
    sagas_per_s: float
    completed: int
    not_completed: int
    latency_ms: tuple[float, float, float] | None
    serial_ms: tuple[float, float]
    cpu: dict[str, float]


def run_serial(runs: SagaRuns, stack: GoalPathStack, count: int = 10) -> list[float]:
    """``count`` sagas one at a time: each one's StartSaga -> SagaCompleted in ms."""
    latencies = []
    for _ in range(count):
        runs.start()
        saga_id = runs.wait_ending(60.0)
        stack.check()
        if saga_id is None:
            raise RuntimeError("a saga run alone did not end within 60 s")
        kind, at = runs.ended[saga_id]
        if kind == "SagaCompleted":
            latencies.append((at - runs.started[saga_id]) * 1000)
    return latencies


def run_closed_loop(runs: SagaRuns, stack: GoalPathStack, in_flight: int, seconds: float) -> Throughput:
    serial = sorted(run_serial(runs, stack))
    say(f"serial: p50 {percentile(serial, 0.5):.0f} ms; closed loop of {in_flight} sagas ...")
    first = len(runs.started)
    runs.start(in_flight)
    begin = time.time() + WARM_UP_S
    end = begin + seconds
    cpu_before: CpuSample | None = None
    while time.time() < end:
        if cpu_before is None and time.time() >= begin:
            cpu_before = CpuSample.take(stack.processes())
        if runs.wait_ending(1.0) is not None:
            runs.start()
        stack.check()
    cpu = cpu_shares(cpu_before, CpuSample.take(stack.processes())) if cpu_before else {}
    window = [(s, kind, at) for s, (kind, at) in runs.ended.items() if begin <= at < end]
    done = [s for s, kind, _ in window if kind == "SagaCompleted"]
    started_in_window = [s for s in list(runs.started)[first:] if begin <= runs.started[s] < end]
    latencies = sorted((runs.ended[s][1] - runs.started[s]) * 1000 for s in started_in_window if s in runs.ended)
    return Throughput(
        sagas_per_s=len(done) / seconds,
        completed=len(done),
        not_completed=len(window) - len(done),
        latency_ms=(percentile(latencies, 0.5), percentile(latencies, 0.99), max(latencies)) if latencies else None,
        serial_ms=(percentile(serial, 0.5), max(serial)),
        cpu=cpu,
    )


def latency_line(latency_ms: tuple[float, float, float] | None) -> str:
    if latency_ms is None:
        return "latency         none of the sagas started in the window ended in it (the loop's queue is longer)"
    p50, p99, top = latency_ms
    return (
        f"latency         p50 {p50:,.0f} ms  p99 {p99:,.0f} ms  max {top:,.0f} ms  "
        "StartSaga -> SagaCompleted (closed loop)"
    )


def report(result: Throughput, in_flight: int, seconds: float) -> str:
    load = os.getloadavg()
    cpu = ", ".join(f"{name} {share:.2f}" for name, share in sorted(result.cpu.items(), key=lambda i: -i[1]))
    cpu_ms = sum(result.cpu.values()) * 1000 / result.sagas_per_s if result.sagas_per_s else 0.0
    return "\n".join(
        [
            "# Saga throughput (issue 4)",
            "",
            f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}",
            f"- machine: {os.cpu_count()} cores; load average at the end {load[0]:.1f} / {load[1]:.1f} / "
            f"{load[2]:.1f} (1/5/15 min; other sessions' suites and brokers shared the cores)",
            "- stack: one KRaft broker of its own, embedded Postgres, scheduler, assigner, orchestrator, saga "
            "coordinator, consensus, projector and an agent runtime with 20 scripted agents of zero latency; the "
            f"saga `bench_six_steps` (`bench/sagas/six_noop_steps.yaml`): {SAGA_STEPS} no-op steps in a row, each "
            "a task assigned to an agent",
            f"- run: `python -m bench.saga_throughput --seconds {seconds:g} --in-flight {in_flight}` "
            "(`make bench-sagas`)",
            "",
            "```",
            f"throughput      {result.sagas_per_s:.2f} six-step sagas/s ({result.sagas_per_s * SAGA_STEPS:.1f} "
            f"steps/s) over {seconds:g} s with {in_flight} in flight; {result.completed} completed, "
            f"{result.not_completed} ended otherwise",
            latency_line(result.latency_ms),
            f"alone           p50 {result.serial_ms[0]:,.0f} ms  max {result.serial_ms[1]:,.0f} ms  one saga at a "
            f"time ({result.serial_ms[0] / SAGA_STEPS:,.0f} ms per step)",
            f"CPU (cores)     {cpu}",
            f"CPU per saga    {cpu_ms:,.0f} ms (all processes above)",
            "```",
            "",
        ]
    )


def kept_analysis(path: Path) -> str:
    if not path.is_file():
        return ""
    text = path.read_text()
    start = text.find(ANALYSIS_HEADING)
    return "\n" + text[start:] if start >= 0 else ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.saga_throughput", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds of the closed loop")
    parser.add_argument("--in-flight", type=int, default=50, help="sagas kept running at once")
    parser.add_argument("--no-write", action="store_true", help=f"print only, do not write {RESULTS.name}")
    parser.add_argument("--kafka-name", default=KAFKA_NAME, help="name of the benchmark's own broker")
    parser.add_argument("--kafka-port", type=int, default=KAFKA_PORT, help="its port (another run may hold it)")
    args = parser.parse_args(argv)
    env = {"ARCHITECT_SAGA_DEFINITIONS_DIR": str(SAGAS_DIR)}
    broker = {"kafka_name": args.kafka_name, "kafka_port": args.kafka_port}
    with goal_path_stack(extra_env=env, database=DATABASE, **broker) as stack:
        runs = SagaRuns(stack, f"sb-{uuid.uuid4().hex[:6]}")
        try:
            result = run_closed_loop(runs, stack, args.in_flight, args.seconds)
        finally:
            runs.close()
    text = report(result, args.in_flight, args.seconds)
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text + kept_analysis(RESULTS))
        say(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
