"""The agent runtime against the real broker: registration, heartbeats, assignments run once, failures with their
error class, token budgets, subprocess timeouts, bids, the blackboard, poison records, and a clean SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

from shared.bus.producer import EventProducer
from shared.bus.topics import (
    AGENTS_ASSIGNMENTS,
    AGENTS_COMMANDS,
    AGENTS_EVENTS,
    AGENTS_REPORTS,
    AUCTIONS_EVENTS,
    BLACKBOARD_EVENTS,
)
from shared.crdt import fleet_state
from shared.crdt.replica import Replica
from shared.events.catalogue.work import TaskAnnounced
from shared.events.codec import encode, new_event
from shared.settings import Settings
from tests.conftest import unique
from tests.integration.agent_runtime_helpers import (
    CALLS,
    EventTail,
    assignment,
    echo_agent,
    fleet,
    running_runtime,
)
from tests.integration.kafka_helpers import dead_letters_from, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tail(settings: Settings) -> Iterator[EventTail]:
    # Without an assigner, the runtime's reports stay on the reports topic (see test_agent_identity for the rest).
    t = EventTail(settings, [AGENTS_REPORTS, AGENTS_EVENTS, AGENTS_COMMANDS, AUCTIONS_EVENTS, BLACKBOARD_EVENTS])
    yield t
    t.close()


def skipped(agent_id: str, reason: str = "duplicate") -> float:
    value = REGISTRY.get_sample_value(
        "architect_agent_assignments_skipped_total", {"agent": agent_id, "reason": reason}
    )
    return value or 0.0


def scripted_worker(agent_id: str, latency_s: float) -> dict[str, object]:
    return {
        "id": agent_id,
        "capabilities": ["code", "test"],
        "capacity": 2,
        "cost": 1.5,
        "model": "scripted-worker",
        "backend": {"kind": "scripted", "latency_s": latency_s, "tokens_per_task": 321},
    }


def start_runtime_process(settings: Settings, command: list[str]) -> subprocess.Popen[bytes]:
    env = os.environ | {"ARCHITECT_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers}
    return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def fleet_file(tmp_path: Path, runtime_id: str, *agents: dict[str, object]) -> Path:
    path = tmp_path / f"{runtime_id}.yaml"
    runtime = {"id": runtime_id, "heartbeat_s": 0.5, "drain_timeout_s": 20}
    path.write_text(yaml.safe_dump({"runtime": runtime, "agents": list(agents)}))
    return path


@pytest.mark.parametrize("launcher", ["python -m services.agent_runtime", "architect agent run"])
def test_the_runtime_process_registers_heartbeats_runs_work_and_drains_on_sigterm(
    settings: Settings, producer: EventProducer, tail: EventTail, tmp_path: Path, launcher: str
) -> None:
    agent_id, goal_id, task_id, runtime_id = unique("proc-agent"), unique("goal"), unique("task"), unique("proc")
    if launcher == "architect agent run":
        # One agent described by flags, as an operator would start it without a fleet file.
        command = [
            sys.executable, "-m", "shared.cli.main", "agent", "run", "--agent-id", agent_id,
            "--capability", "code", "--capability", "test", "--capacity", "2", "--cost", "1.5",
            "--model", "scripted-worker", "--runtime-id", runtime_id, "--heartbeat-s", "0.5",
            "-o", "latency_s=2.0", "-o", "tokens_per_task=321",
        ]  # fmt: skip
    else:
        config = fleet_file(tmp_path, runtime_id, scripted_worker(agent_id, latency_s=2.0))
        command = [sys.executable, "-m", "services.agent_runtime", "--config", str(config)]
    process = start_runtime_process(settings, command)
    try:
        (registration,) = tail.wait_for("RegisterAgent", agent_id=agent_id)
        assert registration.payload.capabilities == ["code", "test"]
        assert (registration.payload.capacity, registration.payload.cost) == (2, 1.5)
        assert registration.payload.model == "scripted-worker"
        tail.wait_for("AgentHeartbeat", count=2, agent_id=agent_id)

        producer.publish(assignment(task_id, goal_id, agent_id))
        producer.flush()
        tail.wait_for("TaskStarted", task_id=task_id)
        tail.wait_for("AgentHeartbeat", agent_id=agent_id, in_flight=1)
        # SIGTERM while the task runs: the runtime stops consuming, lets the task finish, reports it and exits.
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=40)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    log = output.decode(errors="replace")
    assert process.returncode == 0, log
    assert "agent-runtime stopped" in log
    (succeeded,) = tail.wait_for("TaskSucceeded", task_id=task_id, timeout=5)
    (stopped,) = tail.wait_for("AgentStopped", agent_id=agent_id, timeout=5)
    assert stopped.occurred_at >= succeeded.occurred_at, "its agents are announced stopped after the drain"
    assert succeeded.payload.tokens_used == 321
    assert succeeded.payload.duration_ms >= 2000
    assert succeeded.payload.output["operator"] == "code"


def test_after_a_crash_the_interrupted_task_is_reported_not_rerun_and_queued_work_resumes(
    settings: Settings, producer: EventProducer, tail: EventTail, tmp_path: Path
) -> None:
    agent_id, goal_id, runtime_id = unique("crashy"), unique("goal"), unique("crash")
    slow = scripted_worker(agent_id, latency_s=60.0) | {"capacity": 1}
    config = fleet_file(tmp_path, runtime_id, slow)
    running_task, queued_task = unique("task"), unique("task")
    in_flight = fleet_state.in_flight_counter(agent_id)
    reader = Replica(settings, unique("reader"), objects=(fleet_state.IN_FLIGHT_PREFIX,)).start()
    process = start_runtime_process(settings, [sys.executable, "-m", "services.agent_runtime", "--config", str(config)])
    try:
        tail.wait_for("RegisterAgent", agent_id=agent_id)
        producer.publish(assignment(running_task, goal_id, agent_id))
        producer.publish(assignment(queued_task, goal_id, agent_id))
        producer.flush()
        tail.wait_for("TaskStarted", task_id=running_task)
        tail.wait_for("AgentHeartbeat", agent_id=agent_id, in_flight=1)
        reader.wait_until(in_flight, lambda counter: counter.value == 1, timeout_s=15)  # the start is published
        time.sleep(1.0)  # the second assignment is read and queued behind the first (capacity 1)
        process.kill()
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    # The same runtime restarts (same consumer group, so nothing is redelivered) with a quick backend.
    try:
        with running_runtime(settings, fleet(runtime_id, echo_agent(agent_id, capabilities=["code", "test"]))):
            (interrupted,) = tail.wait_for("TaskFailed", task_id=running_task)
            tail.wait_for("TaskSucceeded", task_id=queued_task)
            # The interrupted attempt's end undoes the start counted before the crash: nothing is left in flight.
            reader.wait_until(
                in_flight, lambda counter: counter.value == 0 and counter.increments.value == 2, timeout_s=15
            )
    finally:
        reader.close()
    assert interrupted.payload.error_class == "crash"
    assert "interrupted" in interrupted.payload.error
    assert CALLS[(agent_id, running_task, 1)] == 0, "an interrupted task is reported, never run again"
    assert CALLS[(agent_id, queued_task, 1)] == 1
    assert len(tail.matching("TaskStarted", task_id=running_task)) == 1
    assert len(tail.matching("TaskStarted", task_id=queued_task)) == 1


def test_an_assignment_is_reported_started_then_succeeded_with_output_tokens_and_duration(
    settings: Settings, producer: EventProducer, tail: EventTail
) -> None:
    agent_id, goal_id, task_id = unique("echo"), unique("goal"), unique("task")
    with running_runtime(settings, fleet(unique("rt"), echo_agent(agent_id))):
        producer.publish(assignment(task_id, goal_id, agent_id, inputs={"file": "src/app.py"}))
        producer.flush()
        (succeeded,) = tail.wait_for("TaskSucceeded", task_id=task_id)
    events = [e for e in tail.collect() if getattr(e.payload, "task_id", None) == task_id]
    assert [e.type for e in events] == ["TaskStarted", "TaskSucceeded"]
    started = events[0]
    assert (started.payload.agent_id, started.payload.goal_id, started.payload.attempt) == (agent_id, goal_id, 1)
    assert succeeded.payload.output["echo"] == {"file": "src/app.py"}
    assert "tokens_used" not in succeeded.payload.output
    assert succeeded.payload.tokens_used == 42
    assert succeeded.payload.duration_ms >= 0
    assert succeeded.stream_id == goal_id and succeeded.correlation_id == goal_id
    assert succeeded.producer == f"agent-runtime/{agent_id}"


def test_an_assignment_delivered_again_or_after_a_restart_runs_once(
    settings: Settings, producer: EventProducer, tail: EventTail
) -> None:
    agent_id, goal_id, task_id = unique("once"), unique("goal"), unique("task")
    work = assignment(task_id, goal_id, agent_id)
    with running_runtime(settings, fleet(unique("rt"), echo_agent(agent_id))):
        producer.publish(work)
        producer.flush()
        tail.wait_for("TaskSucceeded", task_id=task_id)
        before = skipped(agent_id)
        producer.publish(work)
        producer.flush()
        wait_for(lambda: skipped(agent_id) >= before + 1, message="the repeat to be skipped")

    # Another runtime instance hosting the same agent: a new consumer group reads the assignments topic from its
    # start (the original and the repeat), and a third copy arrives; the ledger in the state topic knows them all.
    before = skipped(agent_id)
    with running_runtime(settings, fleet(unique("rt-restarted"), echo_agent(agent_id))):
        producer.publish(work)
        producer.publish(assignment(task_id, goal_id, agent_id, attempt=2))
        producer.flush()
        tail.wait_for("TaskSucceeded", task_id=task_id, attempt=2)
        wait_for(lambda: skipped(agent_id) >= before + 3, message="three copies to be skipped after the restart")

    assert CALLS[(agent_id, task_id, 1)] == 1
    assert CALLS[(agent_id, task_id, 2)] == 1
    assert len(tail.matching("TaskStarted", task_id=task_id, attempt=1)) == 1
    assert len(tail.matching("TaskSucceeded", task_id=task_id, attempt=1)) == 1


def test_a_failing_scripted_agent_reports_its_error_class(
    settings: Settings, producer: EventProducer, tail: EventTail
) -> None:
    agent_id, goal_id, task_id = unique("flaky"), unique("goal"), unique("task")
    flaky = {
        "id": agent_id,
        "capabilities": ["code"],
        "backend": {"kind": "scripted", "latency_s": 0.05, "failure_rate": 1.0, "failure_class": "rate_limit"},
    }
    with running_runtime(settings, fleet(unique("rt"), flaky)):
        producer.publish(assignment(task_id, goal_id, agent_id))
        producer.flush()
        (failed,) = tail.wait_for("TaskFailed", task_id=task_id)
    assert failed.payload.error_class == "rate_limit"
    assert "rate_limit" in failed.payload.error
    assert tail.matching("TaskStarted", task_id=task_id)
    assert not tail.matching("TaskSucceeded", task_id=task_id)


def test_an_agent_past_its_token_budget_refuses_work_with_a_clear_error(
    settings: Settings, producer: EventProducer, tail: EventTail
) -> None:
    agent_id, goal_id = unique("budget"), unique("goal")
    frugal = {
        "id": agent_id,
        "capabilities": ["code"],
        "token_budget": 100,
        "backend": {"kind": "scripted", "latency_s": 0.0, "tokens_per_task": 60},
    }
    first, second, third = unique("task"), unique("task"), unique("task")
    with running_runtime(settings, fleet(unique("rt"), frugal)):
        for task_id in (first, second, third):
            producer.publish(assignment(task_id, goal_id, agent_id))
            producer.flush()
            wait_for(
                lambda t=task_id: bool(
                    tail.matching("TaskSucceeded", task_id=t) or tail.matching("TaskFailed", task_id=t)
                ),
                message=f"the outcome of {task_id}",
            )
        tail.wait_for("AgentHeartbeat", agent_id=agent_id, tokens_used=120)

    assert tail.matching("TaskSucceeded", task_id=first)[0].payload.tokens_used == 60
    (over,) = tail.matching("TaskFailed", task_id=second)
    assert over.payload.error_class == "budget"
    assert "exceeds the budget of 100" in over.payload.error
    (refused,) = tail.matching("TaskFailed", task_id=third)
    assert refused.payload.error_class == "budget"
    assert refused.payload.error == "token budget spent: 120 of 100 used"
    assert not tail.matching("TaskStarted", task_id=third), "refused work is never started"


def test_a_subprocess_that_outlives_its_timeout_fails_the_task(
    settings: Settings, producer: EventProducer, tail: EventTail
) -> None:
    agent_id, goal_id = unique("shell"), unique("goal")
    sleeper = {
        "id": agent_id,
        "capabilities": ["code"],
        "backend": {
            "kind": "subprocess",
            "command": [
                sys.executable,
                "-c",
                "import json, sys, time; r = json.load(sys.stdin); "
                "time.sleep(r['inputs'].get('sleep', 0)); print(json.dumps({'slept': True, 'tokens_used': 7}))",
            ],
        },
    }
    slow, quick = unique("task"), unique("task")
    with running_runtime(settings, fleet(unique("rt"), sleeper)):
        producer.publish(assignment(slow, goal_id, agent_id, timeout_s=1.0, inputs={"sleep": 30}))
        producer.publish(assignment(quick, goal_id, agent_id, timeout_s=20.0))
        producer.flush()
        (failed,) = tail.wait_for("TaskFailed", task_id=slow)
        (succeeded,) = tail.wait_for("TaskSucceeded", task_id=quick)
    assert failed.payload.error_class == "timeout"
    assert "did not finish within 1.0s" in failed.payload.error
    assert 1000 <= failed.payload.duration_ms < 10_000
    assert succeeded.payload.output == {"slept": True} and succeeded.payload.tokens_used == 7


def test_agents_bid_on_announced_tasks_they_can_do_while_the_window_is_open(
    settings: Settings, producer: EventProducer, tail: EventTail
) -> None:
    bidder, silent, unable = unique("bidder"), unique("silent"), unique("unable")
    agents = (
        echo_agent(bidder, bid=True, cost=0.7, eta_s=3.0),
        echo_agent(silent, bid=False),
        echo_agent(unable, bid=True, capabilities=["docs"]),
    )
    goal_id, open_task, closed_task = unique("goal"), unique("task"), unique("task")

    def announce(task_id: str, window_s: float, age_s: float = 0.0) -> None:
        event = new_event(
            TaskAnnounced(task_id=task_id, goal_id=goal_id, operator="code", capability="code", window_s=window_s),
            producer="test-assigner",
            stream_id=goal_id,
            correlation_id=goal_id,
        )
        producer.publish(event.model_copy(update={"occurred_at": event.occurred_at - timedelta(seconds=age_s)}))

    with running_runtime(settings, fleet(unique("rt"), *agents)):
        announce(closed_task, window_s=2.0, age_s=60.0)  # its window closed long ago: no bids
        announce(open_task, window_s=30.0)
        producer.flush()
        (bid,) = tail.wait_for("BidPlaced", task_id=open_task)
    assert (bid.payload.agent_id, bid.payload.cost, bid.payload.eta_s, bid.payload.goal_id) == (
        bidder,
        0.7,
        3.0,
        goal_id,
    )
    assert len(tail.matching("BidPlaced", task_id=open_task)) == 1
    assert not tail.matching("BidPlaced", task_id=closed_task)


def test_a_finding_posted_by_one_task_is_visible_to_a_later_task_of_the_same_goal(
    settings: Settings, producer: EventProducer, tail: EventTail
) -> None:
    analyst, reader = unique("analyst"), unique("reader")
    finding = {"topic": "root_cause", "content": {"summary": "stale cache", "files": ["src/cache.py"]}}
    analyst_agent = {
        "id": analyst,
        "capabilities": ["analysis"],
        "backend": {"kind": "scripted", "latency_s": 0.0, "findings": [finding]},
    }
    goal_id, other_goal = unique("goal"), unique("goal")
    first, later, elsewhere = unique("task"), unique("task"), unique("task")
    # Peers in two runtimes: the finding travels through the blackboard topic, not through memory.
    with (
        running_runtime(settings, fleet(unique("rt-a"), analyst_agent)),
        running_runtime(settings, fleet(unique("rt-b"), echo_agent(reader))) as reader_runtime,
    ):
        producer.publish(assignment(first, goal_id, analyst, capability="analysis", operator="analyze"))
        producer.flush()
        (posted,) = tail.wait_for("FindingPosted", task_id=first)
        assert (posted.payload.goal_id, posted.payload.agent_id, posted.payload.topic) == (
            goal_id,
            analyst,
            "root_cause",
        )
        wait_for(lambda: bool(reader_runtime.blackboard.recent(goal_id)), message="the reader's runtime to see it")
        producer.publish(assignment(later, goal_id, reader))
        producer.publish(assignment(elsewhere, other_goal, reader))
        producer.flush()
        (seen,) = tail.wait_for("TaskSucceeded", task_id=later)
        (unrelated,) = tail.wait_for("TaskSucceeded", task_id=elsewhere)
    assert seen.payload.output["findings_seen"] == [
        {"agent_id": analyst, "task_id": first, "topic": "root_cause", "content": finding["content"]}
    ]
    assert unrelated.payload.output["findings_seen"] == []


def test_a_poison_record_on_the_assignments_topic_is_dead_lettered_and_the_runtime_keeps_going(
    settings: Settings, producer: EventProducer, tail: EventTail
) -> None:
    agent_id, goal_id, task_id = unique("sturdy"), unique("goal"), unique("task")
    valid = assignment(task_id, goal_id, agent_id)
    schema_invalid = json.loads(encode(valid))
    schema_invalid["payload"]["attempt"] = 0
    with running_runtime(settings, fleet(unique("rt"), echo_agent(agent_id))) as runtime:
        producer.publish_raw(AGENTS_ASSIGNMENTS, agent_id.encode(), b"\xff\xfe not an event")
        producer.publish_raw(AGENTS_ASSIGNMENTS, agent_id.encode(), json.dumps(schema_invalid).encode())
        producer.publish(valid)
        producer.flush()
        tail.wait_for("TaskSucceeded", task_id=task_id)
        group = runtime.group_id
    letters = [d for d in dead_letters_from(settings, group) if d.key == agent_id.encode()]
    assert sorted(d.reason for d in letters) == ["not_json", "schema_invalid"]
    assert all(d.source_topic == AGENTS_ASSIGNMENTS for d in letters)
