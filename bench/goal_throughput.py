"""End-to-end throughput: goals of five no-op tasks through every service, 20 zero-latency scripted agents.

Goals are submitted as SubmitGoal commands (as the gateway publishes them), closed loop: at most
``--in-flight`` tasks belong to goals submitted and not yet ended (completed, failed or cancelled), so the stack
runs at its own pace with the orchestrator's completion of goals included. After ``--warm-up`` seconds,
TaskSucceeded events are counted per second of their ``occurred_at`` over ``--seconds`` seconds; the figure is
their mean, with the slowest and fastest second, beside the goals completed (GoalCompleted) in the same window.
The records written to every topic in the window (from the partitions' high watermarks) and each process's
CPU use in the window are reported too, to show where the time goes.

    python -m bench.goal_throughput [--seconds 60] [--warm-up 15] [--in-flight 2000] [--partitions 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition

from bench.goal_path_stack import (
    TASKS_PER_GOAL,
    CpuSample,
    GoalPathStack,
    GoalSubmitter,
    TaskWatch,
    add_partitions_option,
    cpu_shares,
    goal_path_stack,
    say,
)
from shared.bus.client_config import kafka_config
from shared.settings import Settings

#: Tasks of goals submitted and not yet ended, at most (400 goals). Until 2026-11-30 05:00 UTC the loop counted tasks
#: not yet succeeded, so the orchestrator could fall behind on completing goals unseen (~150,000 task events behind
#: after 45 s at ~650 tasks/s, see ``shared/bus/faust_committed.py``); the figure was chosen under that bound (with
#: 1,000 the stages, which work in bursts, waited on each other: 445.3 tasks/s against 505.1 with 2,000) and not
#: tuned again since: with goals as the bound, 400 goals are ~6 s of work at ~65 goals/s, queued mostly at the
#: orchestrator's input.
IN_FLIGHT = 2000


@dataclass(frozen=True)
class ThroughputResult:
    seconds: int
    tasks_per_s: float
    slowest_second: int
    fastest_second: int
    median_second: float
    goals_submitted: int
    goals_completed_per_s: float
    goals_not_completed: int
    tasks_succeeded_total: int
    records_per_s: float
    cpu_cores: dict[str, float]
    median_wait_to_assign_s: float
    median_assigned_to_succeeded_s: float
    per_second: tuple[int, ...]
    records_per_task_by_topic: dict[str, float]
    """Records written per succeeded task, topic by topic, most first."""

    @property
    def records_per_task(self) -> float:
        return sum(self.records_per_task_by_topic.values())

    def cpu_ms_per_task(self) -> dict[str, float]:
        """CPU milliseconds each process spent per succeeded task: what the stack costs, whatever else runs."""
        ranked = sorted(self.cpu_cores.items(), key=lambda item: -item[1])
        return {name: 1000 * cores / self.tasks_per_s if self.tasks_per_s else float("nan") for name, cores in ranked}

    def _topics_line(self, shown: int = 8) -> str:
        ranked = list(self.records_per_task_by_topic.items())
        line = ", ".join(f"{name} {per_task:.2f}" for name, per_task in ranked[:shown])
        rest = sum(per_task for _name, per_task in ranked[shown:])
        return f"{line}, others {rest:.2f}" if rest else line

    def lines(self) -> list[str]:
        ranked = sorted(self.cpu_cores.items(), key=lambda item: -item[1])
        cpu = ", ".join(f"{name} {cores:.2f}" for name, cores in ranked)
        per_task = ", ".join(f"{name} {ms:.1f}" for name, ms in self.cpu_ms_per_task().items())
        return [
            f"sustained       {self.tasks_per_s:,.1f} tasks/s over {self.seconds} s (TaskSucceeded per second "
            f"of occurred_at: median {self.median_second:,.0f}, slowest {self.slowest_second:,}, "
            f"fastest {self.fastest_second:,})",
            f"broker traffic  {self.records_per_s:,.0f} records/s written to all topics in the window "
            f"({self.records_per_task:.1f} per task, state and scheduling topics included)",
            f"records/task    {self._topics_line()}",
            f"task stages     median {self.median_wait_to_assign_s * 1000:,.0f} ms created -> assigned, "
            f"{self.median_assigned_to_succeeded_s * 1000:,.0f} ms assigned -> succeeded (closed loop)",
            f"CPU (cores)     {cpu}",
            f"CPU ms per task {per_task} (total {sum(self.cpu_ms_per_task().values()):.1f})",
            f"goals completed {self.goals_completed_per_s:,.1f} goals/s in the window (GoalCompleted per second of "
            f"occurred_at, {self.goals_completed_per_s * TASKS_PER_GOAL:,.1f} tasks/s)",
            f"per second      {' '.join(str(n) for n in self.per_second)}",
            f"total           {self.goals_submitted:,} goals submitted, {self.tasks_succeeded_total:,} tasks "
            f"succeeded, {self.goals_not_completed:,} goals failed or cancelled",
        ]


def records_written(settings: Settings) -> dict[str, int]:
    """Each topic's records ever written on the broker (the sum of its partitions' high watermarks, so a
    transactional topic's commit markers count too)."""
    consumer = Consumer(kafka_config(settings) | {"group.id": f"bench-watermarks-{uuid.uuid4().hex[:6]}"})
    try:
        written: dict[str, int] = {}
        for name, topic in consumer.list_topics(timeout=10).topics.items():
            if name.startswith("__"):
                continue
            for partition in topic.partitions:
                _low, high = consumer.get_watermark_offsets(TopicPartition(name, partition), timeout=10)
                written[name] = written.get(name, 0) + high
        return written
    finally:
        consumer.close()


def records_between(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """The records each topic gained from ``before`` to ``after``, most first (topics that gained none left out)."""
    gained = {name: count - before.get(name, 0) for name, count in after.items()}
    return dict(sorted(((name, n) for name, n in gained.items() if n > 0), key=lambda item: -item[1]))


def measure_throughput(
    stack: GoalPathStack, *, seconds: int = 60, warm_up_s: float = 15.0, in_flight: int = IN_FLIGHT
) -> ThroughputResult:
    run = f"tput-{uuid.uuid4().hex[:6]}"
    submitter = GoalSubmitter(stack.settings, run)
    watch = TaskWatch(stack.settings, run)
    processes = stack.processes()
    started = time.time()
    window_start, window_end = started + warm_up_s, started + warm_up_s + seconds
    cpu_before = cpu_after = None
    records_before: dict[str, int] = {}
    records_after: dict[str, int] = {}
    last_report = last_check = time.monotonic()
    last_succeeded = 0
    goals_open = in_flight // TASKS_PER_GOAL
    say(f"throughput: warming up {warm_up_s:.0f} s, then measuring {seconds} s (at most {goals_open} goals open)")
    try:
        while time.time() < window_end:
            now = time.time()
            if cpu_before is None and now >= window_start:
                cpu_before, records_before = CpuSample.take(processes), records_written(stack.settings)
                say("  measuring ...")
            open_tasks = (submitter.submitted - len(watch.goals_ended)) * TASKS_PER_GOAL
            if open_tasks < in_flight:
                submitter.submit(min(100, (in_flight - open_tasks) // TASKS_PER_GOAL))
            watch.poll(0.01)
            if time.monotonic() - last_report >= 5:
                rate = (watch.succeeded - last_succeeded) / (time.monotonic() - last_report)
                phase = "warm-up" if cpu_before is None else "measure"
                say(
                    f"  [{phase} {time.time() - started:5.0f}s] {watch.succeeded:,} tasks succeeded "
                    f"({rate:,.0f}/s lately), {open_tasks:,} tasks of open goals, {submitter.submitted:,} submitted"
                )
                last_report, last_succeeded = time.monotonic(), watch.succeeded
            if time.monotonic() - last_check >= 5:
                stack.check()
                last_check = time.monotonic()
        cpu_after, records_after = CpuSample.take(processes), records_written(stack.settings)
        submitter.flush()
        settle_until = time.monotonic() + 5
        while time.monotonic() < settle_until:  # events of the window still on their way to the watch
            watch.poll(0.1)
    finally:
        watch.close()
        submitter.close()
    assert cpu_before is not None
    per_second = [0] * seconds
    to_assign, to_succeed = [], []
    for times in watch.tasks.values():
        if times.succeeded is not None and window_start <= times.succeeded < window_end:
            per_second[int(times.succeeded - window_start)] += 1
            if times.created is not None and times.assigned is not None:
                to_assign.append(times.assigned - times.created)
                to_succeed.append(times.succeeded - times.assigned)
    total = sum(per_second)
    by_topic = records_between(records_before, records_after)
    completed = sum(1 for when in watch.goals_completed.values() if window_start <= when < window_end)
    return ThroughputResult(
        seconds=seconds,
        tasks_per_s=total / seconds,
        slowest_second=min(per_second),
        fastest_second=max(per_second),
        median_second=statistics.median(per_second),
        goals_submitted=submitter.submitted,
        goals_completed_per_s=completed / seconds,
        goals_not_completed=sum(1 for how in watch.goals_ended.values() if how != "GoalCompleted"),
        tasks_succeeded_total=watch.succeeded,
        records_per_s=sum(by_topic.values()) / seconds,
        records_per_task_by_topic={name: n / max(total, 1) for name, n in by_topic.items()},
        cpu_cores=cpu_shares(cpu_before, cpu_after),
        median_wait_to_assign_s=statistics.median(to_assign) if to_assign else float("nan"),
        median_assigned_to_succeeded_s=statistics.median(to_succeed) if to_succeed else float("nan"),
        per_second=tuple(per_second),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--warm-up", type=float, default=15.0)
    parser.add_argument(
        "--in-flight", type=int, default=IN_FLIGHT, help=f"tasks of open goals at most (default {IN_FLIGHT})"
    )
    add_partitions_option(parser)
    args = parser.parse_args()
    with goal_path_stack(partitions=args.partitions) as stack:
        result = measure_throughput(stack, seconds=args.seconds, warm_up_s=args.warm_up, in_flight=args.in_flight)
    print("\n".join(result.lines()))


if __name__ == "__main__":
    main()
