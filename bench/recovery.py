"""Recovery time after SIGKILL of each service and after a broker restart, under a steady workload.

    python -m bench.recovery [--rounds 2] [--down 2] [--services drift_monitor] [--warmup 20] [--no-write]

The stack (``bench.goal_path_stack`` on a broker of its own, "bench-recovery" on 127.0.0.1:19792): scheduler,
assigner, orchestrator, saga coordinator, consensus, projector, an agent runtime with 20 zero-latency agents
and the drift monitor. ``bench.workload`` sends 2 goals/s (5 tasks each), 1 six-step saga/s and 1 decision/s;
the orchestrator's worker timeout is 10 s, so the scheduler fires a task timeout check about 10 s after every
assignment (ignored by then: the task succeeded) and has steady work too.

**Recovery time after SIGKILL** = from the moment the service's new process is started (``Popen``) to the
Kafka timestamp of the first record it writes because it processed an input (``bench.recovery_marks``); for
the projector, which writes only to Postgres, to the first time its stored positions advance (polled every
50 ms). Each service is SIGKILLed ``--down`` seconds before its restart; *gap* is the time from its last
output before the kill to its first after the restart. **After a broker restart** (SIGTERM, then a start on
the same storage): from the moment the broker answers again to each service's first output, to the first
GoalCompleted, and to the completion of the first goal submitted after the broker was back (end to end).
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.event_watch import EventWatch
from bench.goal_path_stack import GoalPathStack, goal_path_stack, say
from bench.recovery_marks import Attribution, OutputTimes
from bench.workload import SAGAS_DIR, Rates, Workload
from shared.bus.topics import TOPICS
from shared.db.connection import connect
from shared.infra.stack import ServiceSpec

RESULTS = Path(__file__).resolve().parent / "results" / "recovery.md"
ANALYSIS_HEADING = "## Reading"
KAFKA_NAME = "bench-recovery"
KAFKA_PORT = 19792
DATABASE = "bench_recovery"
PROJECTOR = "projector"
SERVICES = (
    "scheduler",
    "assigner",
    "orchestrator",
    "projector",
    "saga_coordinator",
    "consensus",
    "agent_runtime",
    "drift_monitor",
)
#: Every topic a service writes envelopes to (the compacted state topics hold no envelopes).
WATCHED = tuple(t.name for t in TOPICS if not t.name.endswith(".state") and t.name != "architect.deadletter")
RECOVERY_TIMEOUT_S = 120.0
BROKER_WAIT_S = 180.0


class Outputs:
    """Every service's output times, fed by the event watch and the projector probe (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attribution = Attribution()
        self._times = OutputTimes()
        self.goals_completed: dict[str, float] = {}

    def on_record(self, topic: str, at: float, envelope: dict[str, Any]) -> None:
        with self._lock:
            service = self._attribution.service_of(envelope)
            if service is not None:
                self._times.add(service, at)
            if envelope.get("type") == "GoalCompleted":
                self.goals_completed.setdefault(str(envelope.get("stream_id")), at)

    def add(self, service: str, at: float) -> None:
        with self._lock:
            self._times.add(service, at)

    def first_from(self, service: str, start: float) -> float | None:
        with self._lock:
            return self._times.first_from(service, start)

    def last_before(self, service: str, end: float) -> float | None:
        with self._lock:
            return self._times.last_before(service, end)

    def count_between(self, service: str, start: float, end: float) -> int:
        with self._lock:
            return self._times.count_between(service, start, end)


class ProjectorProbe:
    """Polls the sum of the projector's stored positions; every advance is a projector output."""

    def __init__(self, database_url: str, outputs: Outputs, interval_s: float = 0.05) -> None:
        self._database_url, self._outputs, self._interval_s = database_url, outputs, interval_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="projector-probe", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last = None
        while not self._stopping.is_set():
            try:
                with connect(self._database_url) as conn:
                    while not self._stopping.wait(self._interval_s):
                        row = conn.execute("SELECT coalesce(sum(next_offset), 0) FROM projector_offsets").fetchone()
                        position = int(row[0]) if row else 0
                        if last is not None and position > last:
                            self._outputs.add(PROJECTOR, time.time())
                        last = position
            except Exception:
                self._stopping.wait(1.0)

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(5)


@dataclass
class Recovery:
    service: str
    restart_to_first_s: list[float] = field(default_factory=list)
    gap_s: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def wait_for(what: str, check: Any, timeout_s: float, stack: GoalPathStack | None = None) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if stack is not None:
            stack.check()
        found = check()
        if found:
            return found
        time.sleep(0.05)
    return None


def steady(outputs: Outputs, service: str, window_s: float = 3.0) -> bool:
    now = time.time()
    return outputs.count_between(service, now - window_s, now + 1) > 0


def kill_and_restart(stack: GoalPathStack, outputs: Outputs, service: str, down_s: float, result: Recovery) -> None:
    if not wait_for(f"{service} output", lambda: steady(outputs, service), 60.0, stack):
        result.failures.append("no output under the workload before the kill")
        return
    killed_at = time.time()
    stack.services.kill(service)
    time.sleep(down_s)
    restarted_at = time.time()
    stack.services.restart(service)
    first = wait_for(f"{service} output", lambda: outputs.first_from(service, restarted_at), RECOVERY_TIMEOUT_S, stack)
    if first is None:
        result.failures.append(f"no output within {RECOVERY_TIMEOUT_S:.0f}s of the restart")
        return
    last = outputs.last_before(service, killed_at) or killed_at
    result.restart_to_first_s.append(first - restarted_at)
    result.gap_s.append(first - last)
    say(f"{service}: first output {first - restarted_at:.2f}s after the restart (gap {first - last:.2f}s)")


@dataclass
class BrokerRestart:
    stop_s: float
    start_s: float
    first_output_s: dict[str, float | None]
    first_goal_completed_s: float | None
    first_new_goal_completed_s: float | None
    restarted_services: list[str]


def restart_broker(stack: GoalPathStack, outputs: Outputs, workload: Workload) -> BrokerRestart:
    stopping = time.time()
    stack.kafka.stop()
    stopped = time.time()
    say(f"broker stopped in {stopped - stopping:.1f}s; starting it again on the same storage ...")
    stack.kafka.start()
    up = time.time()
    say(f"broker answers again after {up - stopped:.1f}s")
    restarted: list[str] = []

    def all_seen() -> bool:
        for name, proc in list(stack.services._procs.items()):
            if proc.poll() is not None:
                say(f"{name} exited ({proc.returncode}) during the broker restart; restarting it")
                restarted.append(name)
                stack.services.restart(name)
        return all(outputs.first_from(s, up) is not None for s in SERVICES) and new_goal_done() is not None

    def new_goal_done() -> float | None:
        done = [at for goal, at in outputs.goals_completed.items() if workload.goals_submitted.get(goal, 0) >= up]
        return min(done) if done else None

    wait_for("every service's output after the broker restart", all_seen, BROKER_WAIT_S)
    completed = [at for at in outputs.goals_completed.values() if at >= up]
    new_goal = new_goal_done()
    return BrokerRestart(
        stop_s=stopped - stopping,
        start_s=up - stopped,
        first_output_s={s: (None if (at := outputs.first_from(s, up)) is None else at - up) for s in SERVICES},
        first_goal_completed_s=min(completed) - up if completed else None,
        first_new_goal_completed_s=None if new_goal is None else new_goal - up,
        restarted_services=restarted,
    )


def seconds(values: Iterable[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def report(results: list[Recovery], broker: BrokerRestart | None, down_s: float, rounds: int) -> str:
    load = os.getloadavg()
    lines = [
        "# Recovery benchmarks (issue 4)",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}",
        f"- machine: {os.cpu_count()} cores; load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        "(1/5/15 min; other sessions' suites and brokers shared the cores)",
        "- stack: one KRaft broker of its own, embedded Postgres, scheduler, assigner, orchestrator, saga "
        "coordinator, consensus, projector, agent runtime (20 zero-latency agents) and drift monitor; workload "
        "2 goals/s (5 no-op tasks each), 1 six-step saga/s, 1 decision/s, running throughout",
        f"- run: `python -m bench.recovery --rounds {rounds} --down {down_s:g}` (`make bench-recovery`)",
        "",
        "## SIGKILL of one service",
        "",
        "Restart to first output: from starting the new process to the Kafka timestamp of the first record it "
        "wrote because it processed an input (the projector: its stored positions advance). Gap: from its last "
        f"output before the SIGKILL to that first output ({down_s:g} s of it the service was down).",
        "",
        "| service | restart -> first output, median s | max s | gap median s | runs (s) |",
        "|---|---:|---:|---:|---|",
    ]
    for result in results:
        if result.restart_to_first_s:
            lines.append(
                f"| {result.service} | {statistics.median(result.restart_to_first_s):.2f} | "
                f"{max(result.restart_to_first_s):.2f} | {statistics.median(result.gap_s):.2f} | "
                f"{seconds(result.restart_to_first_s)}{'; ' + '; '.join(result.failures) if result.failures else ''} |"
            )
        else:
            lines.append(f"| {result.service} | - | - | - | {'; '.join(result.failures)} |")
    if broker is not None:
        lines += [
            "",
            "## Broker restart",
            "",
            f"SIGTERM of the broker took {broker.stop_s:.1f} s, its start on the same storage {broker.start_s:.1f} s "
            "(until it answered). From then:",
            "",
            "| first after the broker answered | s |",
            "|---|---:|",
            *(f"| output of {service} | {_maybe(at)} |" for service, at in broker.first_output_s.items()),
            f"| any GoalCompleted | {_maybe(broker.first_goal_completed_s)} |",
            f"| GoalCompleted of a goal submitted after the restart (end to end) | "
            f"{_maybe(broker.first_new_goal_completed_s)} |",
        ]
        if broker.restarted_services:
            lines += ["", f"Exited during the broker restart and restarted: {', '.join(broker.restarted_services)}."]
    return "\n".join(lines) + "\n"


def _maybe(value: float | None) -> str:
    return f"none within {BROKER_WAIT_S:.0f} s" if value is None else f"{value:.2f}"


def kept_analysis(path: Path) -> str:
    if not path.is_file():
        return ""
    text = path.read_text()
    start = text.find(ANALYSIS_HEADING)
    return "\n" + text[start:] if start >= 0 else ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.recovery", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="SIGKILLs of each service")
    parser.add_argument("--down", type=float, default=2.0, help="seconds between a SIGKILL and the restart")
    parser.add_argument("--services", default=",".join(SERVICES), help="comma-separated services to kill")
    parser.add_argument("--no-broker", action="store_true", help="skip the broker restart")
    parser.add_argument("--no-write", action="store_true", help=f"print only, do not write {RESULTS.name}")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds of workload before the first kill")
    parser.add_argument("--kafka-name", default=KAFKA_NAME, help="the broker instance (run beside another)")
    parser.add_argument("--kafka-port", type=int, default=KAFKA_PORT)
    parser.add_argument("--database", default=DATABASE)
    args = parser.parse_args(argv)
    env = {"ARCHITECT_SAGA_DEFINITIONS_DIR": str(SAGAS_DIR), "ARCHITECT_ORCHESTRATOR_WORKER_TIMEOUT_S": "10"}
    run = f"rec-{uuid.uuid4().hex[:6]}"
    outputs = Outputs()
    with goal_path_stack(
        extra_env=env,
        kafka_name=args.kafka_name,
        kafka_port=args.kafka_port,
        database=args.database,
        extra_services=(ServiceSpec("drift_monitor"),),
    ) as stack:
        watch = EventWatch(stack.settings, WATCHED, outputs.on_record)
        probe = ProjectorProbe(stack.settings.database_url, outputs)
        workload = Workload(stack.settings, run, Rates()).start()
        try:
            say(f"warming up for {args.warmup:.0f} s ...")
            time.sleep(args.warmup)
            names = [s for s in args.services.split(",") if s]
            results = [Recovery(name) for name in names]
            for round_number in range(1, args.rounds + 1):
                for result in results:
                    say(f"round {round_number}: SIGKILL {result.service}")
                    kill_and_restart(stack, outputs, result.service, args.down, result)
                    time.sleep(3)
            broker = None if args.no_broker else restart_broker(stack, outputs, workload)
        finally:
            workload.stop()
            probe.close()
            watch.close()
    text = report(results, broker, args.down, args.rounds)
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text + kept_analysis(RESULTS))
        say(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
