"""CPU per task of each process of the goal path, over a fixed workload (so other load on the machine does not
change what is counted, only how long it takes).

Starts the goal-path stack (on a broker and database named by the options, so it can run beside another
session's), measures each process's idle CPU for a few seconds, then submits ``--goals`` goals of five no-op
tasks (closed loop, at most ``--in-flight`` tasks of goals not yet ended) and waits until every goal ended (the
orchestrator's completion of goals counts too). Each process's CPU seconds (user + system, from
``/proc/<pid>/stat``) between the first submission and the last goal's end, divided by the tasks, is its CPU per
task; "net" subtracts what the process spends idle over the same time
(polls, heartbeats, ticks), which is what the throughput figure of a busy machine counts in too.

    python -m bench.goal_cpu [--goals 400] [--in-flight 500] [--kafka-name bench-cpu --kafka-port 19493]
"""

from __future__ import annotations

import argparse
import time
import uuid
from dataclasses import dataclass, field

from confluent_kafka import Consumer, TopicPartition

from bench.goal_path_stack import (
    TASKS_PER_GOAL,
    CpuSample,
    GoalPathStack,
    GoalSubmitter,
    TaskWatch,
    add_partitions_option,
    goal_path_stack,
    say,
)
from shared.bus.client_config import kafka_config
from shared.settings import Settings


def records_per_topic(settings: Settings) -> dict[str, int]:
    """Records ever written to each topic (sum of its partitions' high watermarks), internal topics included."""
    consumer = Consumer(kafka_config(settings) | {"group.id": f"bench-watermarks-{uuid.uuid4().hex[:6]}"})
    try:
        written = {}
        for name, topic in consumer.list_topics(timeout=10).topics.items():
            partitions = [TopicPartition(name, p) for p in topic.partitions]
            written[name] = sum(consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in partitions)
        return written
    finally:
        consumer.close()


def _grouped(seconds: dict[str, float]) -> dict[str, float]:
    grouped: dict[str, float] = {}
    for name, spent in seconds.items():
        group = "postgres" if name.startswith("postgres-") else name
        grouped[group] = grouped.get(group, 0.0) + spent
    return grouped


def _delta(before: CpuSample, after: CpuSample) -> dict[str, float]:
    return _grouped({name: after.seconds.get(name, spent) - spent for name, spent in before.seconds.items()})


@dataclass(frozen=True)
class CpuPerTask:
    tasks: int
    elapsed_s: float
    cpu_s: dict[str, float]
    idle_cores: dict[str, float]
    records: dict[str, int] = field(default_factory=dict)

    def ms_per_task(self, *, net: bool) -> dict[str, float]:
        out = {}
        for name, spent in self.cpu_s.items():
            idle = self.idle_cores.get(name, 0.0) * self.elapsed_s if net else 0.0
            out[name] = 1000 * max(spent - idle, 0.0) / self.tasks
        return dict(sorted(out.items(), key=lambda item: -item[1]))

    def lines(self) -> list[str]:
        gross, net = self.ms_per_task(net=False), self.ms_per_task(net=True)
        lines = [
            f"workload        {self.tasks:,} tasks in {self.elapsed_s:.1f} s "
            f"({self.tasks / self.elapsed_s:,.1f} tasks/s)",
            f"{'process':<18}{'ms/task':>9}{'net':>9}{'idle cores':>12}",
        ]
        for name in gross:
            lines.append(f"{name:<18}{gross[name]:>9.2f}{net[name]:>9.2f}{self.idle_cores.get(name, 0.0):>12.3f}")
        lines.append(f"{'total':<18}{sum(gross.values()):>9.2f}{sum(net.values()):>9.2f}")
        ranked = sorted(((n, c) for n, c in self.records.items() if c), key=lambda item: -item[1])
        lines.append(
            f"records/task    {sum(self.records.values()) / self.tasks:.1f}: "
            + ", ".join(f"{name} {count / self.tasks:.2f}" for name, count in ranked)
        )
        return lines


def measure_cpu_per_task(
    stack: GoalPathStack, *, goals: int = 400, in_flight: int = 500, idle_s: float = 5.0, warm_goals: int = 40
) -> CpuPerTask:
    processes = stack.processes()
    run = f"cpu-{uuid.uuid4().hex[:6]}"
    submitter = GoalSubmitter(stack.settings, run)
    watch = TaskWatch(stack.settings, run)
    try:
        # Warm-up: first tasks pay for imports, caches, topic metadata and group joins.
        submitter.submit(warm_goals)
        submitter.flush()
        deadline = time.monotonic() + 120
        while len(watch.goals_ended) < warm_goals and time.monotonic() < deadline:
            watch.poll(0.1)
        time.sleep(3)
        watch.poll(0.1)
        idle_before = CpuSample.take(processes)
        time.sleep(idle_s)
        idle_after = CpuSample.take(processes)
        idle_cores = {
            name: spent / (idle_after.at - idle_before.at) for name, spent in _delta(idle_before, idle_after).items()
        }
        total = warm_goals + goals
        say(f"cpu: {goals} goals ({goals * TASKS_PER_GOAL} tasks), at most {in_flight} tasks of open goals")
        records_before = records_per_topic(stack.settings)
        before = CpuSample.take(processes)
        last_check = time.monotonic()
        deadline = time.monotonic() + 600
        while len(watch.goals_ended) < total:
            open_tasks = (submitter.submitted - len(watch.goals_ended)) * TASKS_PER_GOAL
            left = total - submitter.submitted
            if left > 0 and open_tasks < in_flight:
                submitter.submit(min(left, 50, (in_flight - open_tasks) // TASKS_PER_GOAL + 1))
            watch.poll(0.01)
            if time.monotonic() - last_check >= 5:
                stack.check()
                last_check = time.monotonic()
                say(f"  {len(watch.goals_ended) - warm_goals:,} goals ended, {watch.succeeded:,} tasks succeeded")
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {len(watch.goals_ended)}/{total} goals ended in 600 s")
        after = CpuSample.take(processes)
        records_after = records_per_topic(stack.settings)
    finally:
        watch.close()
        submitter.close()
    records = {name: count - records_before.get(name, 0) for name, count in records_after.items()}
    return CpuPerTask(goals * TASKS_PER_GOAL, after.at - before.at, _delta(before, after), idle_cores, records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--goals", type=int, default=400)
    parser.add_argument("--in-flight", type=int, default=500)
    parser.add_argument("--kafka-name", default="bench-cpu")
    parser.add_argument("--kafka-port", type=int, default=19493)
    parser.add_argument("--database", default="bench_cpu")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="for every service")
    add_partitions_option(parser)
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.env)
    stack_options = {"kafka_name": args.kafka_name, "kafka_port": args.kafka_port, "database": args.database}
    with goal_path_stack(extra_env=env, partitions=args.partitions, **stack_options) as stack:
        result = measure_cpu_per_task(stack, goals=args.goals, in_flight=args.in_flight)
    print("\n".join(result.lines()), flush=True)


if __name__ == "__main__":
    main()
