"""A goal's method marks two of its steps as a saga, on the real broker with the orchestrator, saga coordinator,
scheduler, assigner and an agent runtime as processes: the orchestrator starts one saga for the group after the
step before it, the goal goes on when the saga completes, and fails, with the saga's executed step undone, when
a later saga step fails for good. Cancelling a goal mid-saga aborts the saga: no further step starts, the
executed steps are undone in reverse order, and the read model (projector running) shows it compensated with
the reason. Agents record every execution in a file, so what ran is counted.

The services use fixed consumer group ids: run this module on a broker of its own, e.g.
``ARCHITECT_TEST_KAFKA_NAME=goalsagas ARCHITECT_TEST_KAFKA_PORT=25201``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from psycopg.rows import dict_row

from shared.bus.producer import EventProducer
from shared.bus.topics import AGENTS_EVENTS, GOALS_EVENTS, SAGAS_EVENTS, TASKS_EVENTS
from shared.db.connection import connect
from shared.db.schema import migrate
from shared.events.catalogue.goals import CancelGoal, SubmitGoal
from shared.events.codec import new_event
from shared.infra.postgres_server import fresh_database
from shared.infra.stack import LocalStack, ServiceSpec
from shared.settings import Settings
from tests.integration.saga_helpers import Collector, executions, wait_until

pytestmark = pytest.mark.timeout(600)

STARTUP_TIMEOUT_S = 240.0
GOAL_TIMEOUT_S = 120.0
OPERATORS = ["build", "deploy", "undeploy", "smoke", "announce", "migrate", "unmigrate"]
DOMAIN = {
    "operators": [{"name": name, "capability": name} for name in OPERATORS],
    "methods": [
        {
            "name": "ship_it",
            "task": "ship",
            "steps": [
                {"id": "build", "task": "build"},
                {"id": "deploy", "task": "deploy", "saga": "release", "compensation": "undeploy"},
                {"id": "smoke", "task": "smoke", "saga": "release"},
                {"id": "announce", "task": "announce"},
            ],
        },
        {
            "name": "roll_out",
            "task": "roll",
            "steps": [
                {"id": "deploy", "task": "deploy", "saga": "rollout", "compensation": "undeploy"},
                {"id": "migrate", "task": "migrate", "saga": "rollout", "compensation": "unmigrate"},
                {"id": "smoke", "task": "smoke", "saga": "rollout"},
            ],
        },
    ],
}


@dataclass
class GoalSagaStack:
    stack: LocalStack
    producer: EventProducer
    collector: Collector
    execution_log: Path
    database_url: str

    def submit(self, goal_type: str = "ship", **params: Any) -> str:
        goal_id = f"goal-{uuid.uuid4().hex[:10]}"
        command = SubmitGoal(goal_id=goal_id, goal_type=goal_type, params=params, submitted_by="tests")
        self.producer.publish(new_event(command, producer="tests", stream_id=goal_id, correlation_id=goal_id))
        self.producer.flush()
        return goal_id

    def cancel(self, goal_id: str) -> None:
        command = CancelGoal(goal_id=goal_id, requested_by="tests")
        self.producer.publish(new_event(command, producer="tests", stream_id=goal_id, correlation_id=goal_id))
        self.producer.flush()

    def query(self, sql: str, *args: object) -> list[dict[str, Any]]:
        with connect(self.database_url) as conn, conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(sql, args).fetchall()

    def outcome(self, goal_id: str, timeout_s: float = GOAL_TIMEOUT_S) -> Any:
        def ended() -> list[Any]:
            return self.collector.events(goal_id, "GoalCompleted", "GoalFailed")

        return wait_until(self.stack, f"goal {goal_id} to end", ended, timeout_s)[0]

    def ran(self, run_id: str) -> list[str]:
        return [line["operator"] for line in executions(self.execution_log, run_id)]


@pytest.fixture(scope="module")
def goal_sagas(
    settings: Settings, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GoalSagaStack]:
    directory = tmp_path_factory.mktemp("goal-sagas")
    tag = uuid.uuid4().hex[:6]
    agent_id = f"goal-saga-worker-{tag}"
    execution_log = directory / "executions.jsonl"
    fleet = {
        "runtime": {"id": f"goal-sagas-{tag}", "heartbeat_s": 1, "drain_timeout_s": 5},
        "agents": [
            {
                "id": agent_id,
                "capabilities": OPERATORS,
                "capacity": 4,
                "backend": {
                    "kind": "callable",
                    "target": "tests.integration.saga_backends:record_and_answer",
                    "options": {"log": str(execution_log)},
                },
            }
        ],
    }
    fleet_file = directory / "fleet.yaml"
    fleet_file.write_text(yaml.safe_dump(fleet, sort_keys=False))
    methods_dir = directory / "methods"
    methods_dir.mkdir()
    (methods_dir / "ship.yaml").write_text(yaml.safe_dump(DOMAIN, sort_keys=False))
    env = {
        "ARCHITECT_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "ARCHITECT_DATA_DIR": str(directory / "data"),
        "ARCHITECT_ORCHESTRATOR_METHODS_DIR": str(methods_dir),
    }
    read_models = fresh_database(database_url, f"goal_sagas_{uuid.uuid4().hex[:10]}")
    with connect(read_models) as conn:
        migrate(conn)
    stack = LocalStack(settings.kafka_bootstrap_servers, read_models, directory / "logs", extra_env=env)
    collector = Collector(settings, [GOALS_EVENTS, SAGAS_EVENTS, TASKS_EVENTS, AGENTS_EVENTS])
    producer = EventProducer(settings, client_id="goal-saga-tests")
    goal_stack = GoalSagaStack(stack, producer, collector, execution_log, read_models)
    try:
        stack.start_all(
            [
                "scheduler",
                "assigner",
                "saga_coordinator",
                "projector",
                ServiceSpec("agent_runtime", ("--config", str(fleet_file))),
            ]
        )
        wait_until(stack, f"agent {agent_id} to register", lambda: collector.events(agent_id, "AgentRegistered"), 120.0)
        stack.start("orchestrator")  # last, on a broker whose group coordinator is loaded
        warm_up = goal_stack.submit()
        assert goal_stack.outcome(warm_up, STARTUP_TIMEOUT_S).type == "GoalCompleted"
        yield goal_stack
    finally:
        codes = stack.stop()
        producer.close()
        collector.close()
        print(f"\ngoal saga stack stopped (exit codes {codes}); logs in {stack.log_dir}")


def test_the_marked_steps_run_as_one_saga_and_the_goal_completes_after_it(goal_sagas: GoalSagaStack) -> None:
    goal_id = goal_sagas.submit()

    assert goal_sagas.outcome(goal_id).type == "GoalCompleted"
    saga_id = f"{goal_id}/saga/r0/release"
    assert goal_sagas.ran(goal_id) == ["build", "announce"]
    assert goal_sagas.ran(saga_id) == ["deploy", "smoke"]
    (started,) = goal_sagas.collector.events(saga_id, "SagaStarted")
    assert [step.action for step in started.payload.steps] == ["deploy", "smoke"]
    assert [step.compensation for step in started.payload.steps] == ["undeploy", None]
    assert goal_sagas.collector.events(saga_id, "SagaCompleted")
    # The saga's tasks are the coordinator's (keyed by the saga), none was created for the goal itself.
    goal_tasks = [e.payload.task_id for e in goal_sagas.collector.events(goal_id, "TaskCreated")]
    assert goal_tasks == [f"{goal_id}/build", f"{goal_id}/announce"]


def test_a_failed_saga_step_undoes_the_saga_and_fails_the_goal(goal_sagas: GoalSagaStack) -> None:
    goal_id = goal_sagas.submit(fail_operators=["smoke"])

    failed = goal_sagas.outcome(goal_id)
    assert failed.type == "GoalFailed"
    saga_id = f"{goal_id}/saga/r0/release"
    assert goal_sagas.ran(saga_id) == ["deploy", "smoke", "undeploy"]
    assert goal_sagas.ran(goal_id) == ["build"]  # the step after the saga never ran
    (compensated,) = goal_sagas.collector.events(saga_id, "SagaCompensated")
    assert compensated.payload.compensated_steps == ["s1_deploy"]
    assert failed.payload.failed_task_id == f"{goal_id}/smoke"
    assert "saga 'release' compensated at step smoke" in failed.payload.reason
    assert failed.payload.reason.endswith("undone: deploy")


def test_cancelling_the_goal_mid_saga_starts_no_further_step_and_undoes_the_executed_ones(
    goal_sagas: GoalSagaStack,
) -> None:
    goal_id = goal_sagas.submit("roll", slow_operators={"migrate": 6.0})
    saga_id = f"{goal_id}/saga/r0/rollout"
    collector = goal_sagas.collector

    def migrating() -> list[Any]:
        return [e for e in collector.events(saga_id, "SagaStepStarted") if e.payload.step_name == "s2_migrate"]

    wait_until(goal_sagas.stack, "the saga's second step to start", migrating, GOAL_TIMEOUT_S)
    goal_sagas.cancel(goal_id)

    (ended,) = wait_until(
        goal_sagas.stack,
        f"saga {saga_id} to end",
        lambda: collector.events(saga_id, "SagaCompleted", "SagaCompensated", "SagaFailed"),
        GOAL_TIMEOUT_S,
    )
    assert collector.events(goal_id, "GoalCancelled")
    (aborted,) = collector.events(saga_id, "SagaAborted")
    assert (aborted.payload.reason, aborted.payload.waiting_for) == ("goal cancelled", "s2_migrate")
    # The step in flight was awaited (it finished, so it is undone too); the third step never started.
    assert goal_sagas.ran(saga_id) == ["deploy", "migrate", "unmigrate", "undeploy"]
    started = [e.payload.step_name for e in collector.events(saga_id, "SagaStepStarted")]
    assert started == ["s1_deploy", "s2_migrate"]
    assert ended.type == "SagaCompensated"
    assert (ended.payload.reason, ended.payload.failed_step) == ("goal cancelled", None)
    assert ended.payload.compensated_steps == ["s2_migrate", "s1_deploy"]
    undone = [e.payload.step_name for e in collector.events(saga_id, "CompensationSucceeded")]
    assert undone == ["s2_migrate", "s1_deploy"]

    def shown() -> list[dict[str, Any]] | None:
        rows = goal_sagas.query("SELECT * FROM sagas WHERE saga_id = %s AND status = 'compensated'", saga_id)
        return rows or None

    (saga,) = wait_until(goal_sagas.stack, "the read model to show the saga compensated", shown, 60.0)
    assert saga["reason"] == "goal cancelled" and saga["compensated_steps"] == ["s2_migrate", "s1_deploy"]
    steps = goal_sagas.query("SELECT * FROM saga_steps WHERE saga_id = %s ORDER BY step_index", saga_id)
    assert [(s["step_name"], s["status"], s["compensation_status"]) for s in steps] == [
        ("s1_deploy", "succeeded", "compensated"),
        ("s2_migrate", "succeeded", "compensated"),
        ("s3_smoke", "pending", None),
    ]
