"""The goal-path benchmarks' pure parts: percentiles, CPU shares, results, the watch's bookkeeping of goal endings,
and the fleet and method files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bench.assignment_latency import percentile
from bench.goal_path import ANALYSIS_HEADING, kept_analysis
from bench.goal_path_stack import (
    FLEET_FILE,
    FLEET_SIZE,
    GOAL_TYPE,
    METHODS_DIR,
    TASKS_PER_GOAL,
    CpuSample,
    TaskWatch,
    cpu_shares,
)
from bench.goal_throughput import ThroughputResult
from services.agent_runtime.fleet_config import load_fleet
from services.orchestrator.settings import OrchestratorSettings
from shared.settings import Settings


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([7.0], 0.99) == 7.0


def test_cpu_shares_are_cores_and_sum_postgres_backends() -> None:
    before = CpuSample(at=10.0, seconds={"orchestrator": 1.0, "postgres-0": 0.5, "postgres-1": 0.0})
    after = CpuSample(at=12.0, seconds={"orchestrator": 2.0, "postgres-0": 0.7, "postgres-1": 0.2})
    shares = cpu_shares(before, after)
    assert shares["orchestrator"] == 0.5
    assert abs(shares["postgres"] - 0.2) < 1e-9


def test_a_process_unreadable_in_the_second_sample_counts_as_idle_not_negative() -> None:
    before = CpuSample(at=10.0, seconds={"assigner": 3.0, "postgres-0": 0.5})
    after = CpuSample(at=12.0, seconds={"assigner": 0.0, "postgres-0": 0.7})  # 0.0: psutil could not read it
    shares = cpu_shares(before, after)
    assert shares["assigner"] == 0.0
    assert abs(shares["postgres"] - 0.1) < 1e-9


def test_cpu_ms_per_task_divides_by_the_rate() -> None:
    result = ThroughputResult(
        seconds=60,
        tasks_per_s=100.0,
        slowest_second=50,
        fastest_second=150,
        median_second=100.0,
        goals_submitted=1200,
        goals_completed_per_s=19.5,
        goals_not_completed=0,
        tasks_succeeded_total=6000,
        records_per_s=1700.0,
        records_per_task_by_topic={"architect.tasks.events": 4.0, "architect.assigner.state": 13.0},
        cpu_cores={"orchestrator": 0.6, "kafka": 0.5},
        median_wait_to_assign_s=0.1,
        median_assigned_to_succeeded_s=0.5,
        per_second=(100,) * 60,
    )
    assert result.cpu_ms_per_task() == {"orchestrator": 6.0, "kafka": 5.0}
    assert any("100.0 tasks/s" in line for line in result.lines())
    assert any("19.5 goals/s" in line and "97.5 tasks/s" in line for line in result.lines())
    assert any("(17.0 per task" in line for line in result.lines())


def test_a_new_run_keeps_the_hand_written_analysis(tmp_path: Path) -> None:
    results = tmp_path / "goal_path.md"
    assert kept_analysis(results) == ""
    results.write_text(f"# figures\nold numbers\n{ANALYSIS_HEADING}\nwhy it is slow\n")
    assert kept_analysis(results) == f"\n{ANALYSIS_HEADING}\nwhy it is slow\n"
    results.write_text("# figures only\n")
    assert kept_analysis(results) == ""


def test_the_fleet_and_the_goal_type_load() -> None:
    fleet = load_fleet(FLEET_FILE)
    assert len(fleet.hosted()) == FLEET_SIZE
    assert all(agent.backend.latency_s == 0 and agent.capabilities == ["noop"] for agent in fleet.hosted())
    domain = OrchestratorSettings(methods_dir=METHODS_DIR).domain()
    methods = [method for method in domain.methods if method.task == GOAL_TYPE]
    assert len(methods) == 1 and len(methods[0].steps) == TASKS_PER_GOAL
    assert all(not step.depends_on for step in methods[0].steps)


def test_the_watch_keeps_how_each_goal_ended_and_when_it_completed() -> None:
    watch = TaskWatch(Settings(kafka_bootstrap_servers="127.0.0.1:1", kafka_security_protocol="PLAINTEXT"), "run")
    try:
        at = "2026-11-30T05:00:00+00:00"
        watch._note({"type": "GoalCompleted", "occurred_at": at, "payload": {"goal_id": "run-1"}}, 0.0)
        watch._note({"type": "GoalFailed", "occurred_at": at, "payload": {"goal_id": "run-2", "reason": "x"}}, 0.0)
        watch._note({"type": "GoalCancelled", "occurred_at": at, "payload": {"goal_id": "run-3"}}, 0.0)
        watch._note({"type": "GoalCompleted", "occurred_at": at, "payload": {"goal_id": "run-1"}}, 0.0)  # again
        watch._note({"type": "GoalPlanned", "occurred_at": at, "payload": {"goal_id": "run-4"}}, 0.0)
        assert watch.goals_ended == {"run-1": "GoalCompleted", "run-2": "GoalFailed", "run-3": "GoalCancelled"}
        assert list(watch.goals_completed) == ["run-1"]
        assert watch.goals_completed["run-1"] == datetime.fromisoformat(at).timestamp()
    finally:
        watch.close()
