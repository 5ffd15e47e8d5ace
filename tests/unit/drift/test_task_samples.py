"""Behaviour samples taken from task outcomes."""

import json

from services.drift_monitor.task_samples import behaviour_sample
from shared.bus.partitioning import partition_for
from shared.events.catalogue.tasks import TaskFailed, TaskStarted, TaskSucceeded


def test_a_success_with_text_gives_the_text_tools_memory_latency_and_tokens() -> None:
    output = {"text": "Parsed it.", "tools_used": ["run_tests", "read_file"], "memory_used": True, "summary": "x"}
    sample = behaviour_sample(
        TaskSucceeded(task_id="t", goal_id="g", agent_id="a", attempt=2, output=output, tokens_used=7, duration_ms=30)
    )
    assert sample is not None
    assert (sample.agent_id, sample.task_id, sample.attempt) == ("a", "t", 2)
    assert sample.output_text == "Parsed it."
    assert sample.tools_used == ["read_file", "run_tests"]
    assert sample.memory_used and sample.latency_ms == 30 and sample.tokens == 7 and sample.succeeded


def test_a_success_without_text_is_its_output_as_sorted_json_without_interaction_fields() -> None:
    output = {"summary": "done", "files": ["a.py"], "tools_used": "not-a-list", "effective_drift": 0.3}
    sample = behaviour_sample(TaskSucceeded(task_id="t", goal_id="g", agent_id="a", output=output))
    assert sample is not None
    assert json.loads(sample.output_text) == {"files": ["a.py"], "summary": "done"}
    assert sample.tools_used == [] and not sample.memory_used


def test_only_behavioural_failures_are_samples() -> None:
    crash = behaviour_sample(TaskFailed(task_id="t", goal_id="g", agent_id="a", error_class="invalid", error="bad"))
    assert crash is not None and not crash.succeeded and crash.output_text == "bad" and crash.error_class == "invalid"
    for error_class in ("timeout", "rate_limit", "auth", "budget"):
        failure = TaskFailed(task_id="t", goal_id="g", agent_id="a", error_class=error_class)
        assert behaviour_sample(failure) is None
    assert behaviour_sample(TaskStarted(task_id="t", goal_id="g", agent_id="a")) is None


def test_partitions_follow_crc32_like_confluent_kafka() -> None:
    assert partition_for(b"agent-0", 6) == 3
    assert {partition_for(f"agent-{i}".encode(), 6) for i in range(50)} == set(range(6))
