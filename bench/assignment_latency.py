"""Assignment latency: TaskCreated -> TaskAssigned, from the events' ``occurred_at``, at a steady offered load.

Goals of five no-op tasks are submitted open loop at ``--rate`` tasks/s (one goal every 5/rate seconds), so
the load does not adapt to the stack. For every task created after ``--warm-up`` seconds and during the next
``--seconds`` seconds, the latency is its TaskAssigned's ``occurred_at`` (written by the assigner) minus its
TaskCreated's (written by the orchestrator); both processes share this machine's clock. Tasks created > 0.5 s
after the window's end are left out; tasks never assigned within 30 s of the end are reported as such.

    python -m bench.assignment_latency [--rate 100] [--seconds 60] [--warm-up 10]
"""

from __future__ import annotations

import argparse
import math
import time
import uuid
from dataclasses import dataclass

from bench.goal_path_stack import (
    TASKS_PER_GOAL,
    GoalPathStack,
    GoalSubmitter,
    TaskTimes,
    TaskWatch,
    add_partitions_option,
    goal_path_stack,
    say,
)


@dataclass(frozen=True)
class LatencyResult:
    offered_tasks_per_s: float
    created_tasks_per_s: float
    seconds: int
    tasks: int
    unassigned: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    succeeded_p50_ms: float
    stages: dict[str, tuple[float, float]]
    """(p50, p99) in ms of each stage of the tasks created in the window (see ``stage_latencies``)."""

    def lines(self) -> list[str]:
        stages = ", ".join(f"{name} {p50:,.0f}/{p99:,.0f}" for name, (p50, p99) in self.stages.items())
        return [
            f"offered         {self.offered_tasks_per_s:,.0f} tasks/s for {self.seconds} s "
            f"({self.created_tasks_per_s:,.1f} tasks/s created by the orchestrator in the window)",
            f"assignment      p50 {self.p50_ms:,.1f} ms  p90 {self.p90_ms:,.1f} ms  p99 {self.p99_ms:,.1f} ms  "
            f"max {self.max_ms:,.1f} ms  over {self.tasks:,} tasks (TaskCreated -> TaskAssigned)",
            f"task done       p50 {self.succeeded_p50_ms:,.1f} ms TaskCreated -> TaskSucceeded (zero-latency agents)",
            f"stages          p50/p99 ms: {stages}",
            f"unassigned      {self.unassigned} task(s) created in the window had no TaskAssigned 30 s after it",
        ]


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(share * len(sorted_values))))
    return sorted_values[rank - 1]


def measure_assignment_latency(
    stack: GoalPathStack, *, tasks_per_s: float = 100.0, seconds: int = 60, warm_up_s: float = 10.0
) -> LatencyResult:
    run = f"lat-{uuid.uuid4().hex[:6]}"
    submitter = GoalSubmitter(stack.settings, run)
    watch = TaskWatch(stack.settings, run)
    goal_interval = TASKS_PER_GOAL / tasks_per_s
    started = time.time()
    window_start, window_end = started + warm_up_s, started + warm_up_s + seconds
    last_report = last_check = time.monotonic()
    say(f"assignment latency: {tasks_per_s:.0f} tasks/s offered, warm-up {warm_up_s:.0f} s, measuring {seconds} s")
    try:
        while time.time() < window_end:
            due = int((time.time() - started) / goal_interval) + 1
            if due > submitter.submitted:
                submitter.submit(due - submitter.submitted)
            watch.poll(min(goal_interval / 2, 0.01))
            if time.monotonic() - last_report >= 5:
                phase = "warm-up" if time.time() < window_start else "measure"
                latencies = recent_latencies(watch, time.time() - 5)
                lately = f"p50 {percentile(latencies, 0.5) * 1000:,.0f} ms lately" if latencies else "none assigned"
                say(
                    f"  [{phase} {time.time() - started:5.0f}s] {submitter.submitted * TASKS_PER_GOAL:,} tasks "
                    f"offered, {sum(t.assigned is not None for t in watch.tasks.values()):,} assigned ({lately})"
                )
                last_report = time.monotonic()
            if time.monotonic() - last_check >= 5:
                stack.check()
                last_check = time.monotonic()
        submitter.flush()
        in_window = {
            task_id: times
            for task_id, times in watch.tasks.items()
            if times.created is not None and window_start <= times.created < window_end
        }
        settle_until = time.monotonic() + 30
        while time.monotonic() < settle_until and any(t.assigned is None for t in in_window.values()):
            watch.poll(0.1)
            in_window = {k: watch.tasks[k] for k in in_window}
    finally:
        watch.close()
        submitter.close()
    created_in_window = [
        t for t in watch.tasks.values() if t.created is not None and window_start <= t.created < window_end
    ]
    latencies = sorted(t.assigned - t.created for t in created_in_window if t.assigned is not None and t.created)
    done = sorted(t.succeeded - t.created for t in created_in_window if t.succeeded is not None and t.created)
    return LatencyResult(
        offered_tasks_per_s=tasks_per_s,
        created_tasks_per_s=len(created_in_window) / seconds,
        seconds=seconds,
        tasks=len(latencies),
        unassigned=len(created_in_window) - len(latencies),
        p50_ms=percentile(latencies, 0.50) * 1000,
        p90_ms=percentile(latencies, 0.90) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        max_ms=(latencies[-1] if latencies else float("nan")) * 1000,
        succeeded_p50_ms=percentile(done, 0.50) * 1000,
        stages=stage_latencies(created_in_window),
    )


def stage_latencies(tasks: list[TaskTimes]) -> dict[str, tuple[float, float]]:
    """(p50, p99) ms of each stage: the orchestrator from deciding a TaskCreated to sending it, its delivery and
    the assigner's decision, the runtime from TaskAssigned to launching the work (TaskStarted), and from the
    launch to the settled result (TaskSucceeded)."""
    stages = {
        "created->sent": lambda t: t.created_sent - t.created,
        "sent->assigned": lambda t: t.assigned - t.created_sent,
        "assigned->started": lambda t: t.started - t.assigned,
        "started->succeeded": lambda t: t.succeeded - t.started,
    }
    needed = {
        "created->sent": ("created", "created_sent"),
        "sent->assigned": ("created_sent", "assigned"),
        "assigned->started": ("assigned", "started"),
        "started->succeeded": ("started", "succeeded"),
    }
    found = {}
    for name, stage in stages.items():
        values = sorted(stage(t) for t in tasks if all(getattr(t, f) is not None for f in needed[name]))
        found[name] = (percentile(values, 0.5) * 1000, percentile(values, 0.99) * 1000)
    return found


def recent_latencies(watch: TaskWatch, since: float) -> list[float]:
    """Sorted assignment latencies of the tasks assigned since ``since`` (for the progress lines)."""
    return sorted(
        t.assigned - t.created
        for t in watch.tasks.values()
        if t.assigned is not None and t.created is not None and t.assigned >= since
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="offered tasks per second")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--warm-up", type=float, default=10.0)
    add_partitions_option(parser)
    args = parser.parse_args()
    with goal_path_stack(partitions=args.partitions) as stack:
        result = measure_assignment_latency(stack, tasks_per_s=args.rate, seconds=args.seconds, warm_up_s=args.warm_up)
    print("\n".join(result.lines()))


if __name__ == "__main__":
    main()
