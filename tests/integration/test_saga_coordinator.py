"""The saga coordinator on the real broker, with the scheduler, the assigner, an agent runtime and the projector
running as processes: a saga completes (one step retried through the scheduler), a failing saga compensates its
executed steps in reverse order, a coordinator SIGKILLed mid-saga resumes from its table with no step run
twice, and a running saga aborted by hand (``architect sagas abort``) ends compensated with its reason. Agents
record every execution in a file, so "ran once" is counted, not inferred.

The services use fixed consumer group ids: run this module on a broker of its own, e.g.
``ARCHITECT_TEST_KAFKA_NAME=saga ARCHITECT_TEST_KAFKA_PORT=25592``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from psycopg.rows import dict_row
from pydantic import SecretStr

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from shared.bus.producer import EventProducer
from shared.bus.topics import AGENTS_EVENTS, SAGAS_EVENTS, TASKS_EVENTS
from shared.db.connection import connect
from shared.db.schema import migrate
from shared.events.catalogue.sagas import StartSaga
from shared.events.codec import new_event
from shared.infra.postgres_server import fresh_database
from shared.infra.stack import LocalStack, ServiceSpec
from shared.settings import Settings
from tests.integration.saga_helpers import Collector, executions, wait_until

STARTUP_TIMEOUT_S = 180.0
SAGA_TIMEOUT_S = 90.0
TERMINAL = ("SagaCompleted", "SagaCompensated", "SagaFailed")
OPERATORS = ["reserve", "release", "charge", "refund", "ship"]


def order_definition(name: str) -> dict[str, Any]:
    """Reserve stock, charge the card, ship: each executed step has an undo except shipping."""
    return {
        "name": name,
        "steps": [
            {"name": "reserve", "action": {"operator": "reserve"}, "compensation": {"operator": "release"}},
            {"name": "charge", "action": {"operator": "charge"}, "compensation": {"operator": "refund"}},
            {
                "name": "ship",
                "action": {"operator": "ship"},
                "retry": {"max_attempts": 2, "base_delay_seconds": 0.5, "jitter_ratio": 0},
            },
        ],
    }


@dataclass
class SagaStack:
    stack: LocalStack
    settings: Settings
    database_url: str
    producer: EventProducer
    collector: Collector
    execution_log: Path
    definition: str

    def start(self, **params: Any) -> str:
        saga_id = f"saga-{uuid.uuid4().hex[:10]}"
        command = StartSaga(saga_id=saga_id, definition=self.definition, params=params, started_by="tests")
        self.producer.publish(new_event(command, producer="tests", stream_id=saga_id, correlation_id=saga_id))
        self.producer.flush()
        return saga_id

    def wait_finished(self, saga_id: str, timeout_s: float = SAGA_TIMEOUT_S) -> str:
        events = wait_until(
            self.stack, f"saga {saga_id} to finish", lambda: self.collector.events(saga_id, *TERMINAL), timeout_s
        )
        return events[0].type

    def step_events(self, saga_id: str, *types: str) -> list[tuple[str, str, int]]:
        return [(e.type, e.payload.step_name, e.payload.attempt) for e in self.collector.events(saga_id, *types)]

    def query(self, sql: str, *args: object) -> list[dict[str, Any]]:
        with connect(self.database_url) as conn, conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(sql, args).fetchall()

    def read_model(self, saga_id: str, status: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The saga's row once the projector shows it ``status``, and its step rows."""

        def shown() -> list[dict[str, Any]] | None:
            rows = self.query("SELECT * FROM sagas WHERE saga_id = %s AND status = %s", saga_id, status)
            return rows or None

        (saga,) = wait_until(self.stack, f"saga {saga_id} {status} in the read model", shown, 60.0)
        steps = self.query("SELECT * FROM saga_steps WHERE saga_id = %s ORDER BY step_index", saga_id)
        return saga, steps


@pytest.fixture(scope="module")
def sagas(settings: Settings, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SagaStack]:
    directory = tmp_path_factory.mktemp("sagas")
    tag = uuid.uuid4().hex[:6]
    agent_id = f"saga-worker-{tag}"
    execution_log = directory / "executions.jsonl"
    fleet = {
        "runtime": {"id": f"saga-{tag}", "heartbeat_s": 1, "drain_timeout_s": 5},
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
    definitions_dir = directory / "definitions"
    definitions_dir.mkdir()
    definition = f"order_{tag}"
    (definitions_dir / "order.yaml").write_text(yaml.safe_dump(order_definition(definition), sort_keys=False))
    read_models = fresh_database(database_url, f"sagas_{uuid.uuid4().hex[:10]}")
    with connect(read_models) as conn:
        migrate(conn)
    env = {
        "ARCHITECT_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "ARCHITECT_DATA_DIR": str(directory / "data"),
        "ARCHITECT_SAGA_DEFINITIONS_DIR": str(definitions_dir),
    }
    stack = LocalStack(settings.kafka_bootstrap_servers, read_models, directory / "logs", extra_env=env)
    collector = Collector(settings, [SAGAS_EVENTS, TASKS_EVENTS, AGENTS_EVENTS])
    producer = EventProducer(settings, client_id="saga-tests")
    saga_stack = SagaStack(stack, settings, read_models, producer, collector, execution_log, definition)
    try:
        stack.start_all(
            [
                "scheduler",
                "assigner",
                "projector",
                "saga_coordinator",
                ServiceSpec("agent_runtime", ("--config", str(fleet_file))),
            ]
        )
        wait_until(
            stack,
            f"agent {agent_id} to register",
            lambda: collector.events(agent_id, "AgentRegistered"),
            STARTUP_TIMEOUT_S,
        )
        warm_up = saga_stack.start()
        assert saga_stack.wait_finished(warm_up, STARTUP_TIMEOUT_S) == "SagaCompleted"
        yield saga_stack
    finally:
        codes = stack.stop()
        producer.close()
        collector.close()
        print(f"\nsaga stack stopped (exit codes {codes}); logs in {stack.log_dir}")


@pytest.fixture
def saga_stack(sagas: SagaStack) -> SagaStack:
    return sagas


def test_a_saga_completes_with_a_failed_step_retried_through_the_scheduler(saga_stack: SagaStack) -> None:
    saga_id = saga_stack.start(fail_first_attempt=["ship"])

    assert saga_stack.wait_finished(saga_id) == "SagaCompleted"
    ran = [
        (e["operator"], e["task_id"].rsplit("/", 1)[1], e["attempt"])
        for e in executions(saga_stack.execution_log, saga_id)
    ]
    # The assigner retries the failed task once (error class "invalid"), then the saga retries the step.
    assert ran == [("reserve", "a1", 1), ("charge", "a1", 1), ("ship", "a1", 1), ("ship", "a1", 2), ("ship", "a2", 1)]
    failed = saga_stack.collector.events(saga_id, "SagaStepFailed")
    assert [(e.payload.step_name, e.payload.attempt, e.payload.retry_at is not None) for e in failed] == [
        ("ship", 1, True)
    ]
    assert saga_stack.collector.events(saga_id, "CompensationStarted") == []
    saga, steps = saga_stack.read_model(saga_id, "completed")
    assert saga["definition"] == saga_stack.definition and saga["steps_total"] == 3
    assert [(s["step_name"], s["status"], s["attempts"]) for s in steps] == [
        ("reserve", "succeeded", 1),
        ("charge", "succeeded", 1),
        ("ship", "succeeded", 2),
    ]
    assert steps[2]["task_id"] == f"{saga_id}/ship/a2"


def test_a_saga_whose_step_fails_compensates_the_executed_steps_in_reverse_order(saga_stack: SagaStack) -> None:
    saga_id = saga_stack.start(fail_operators=["ship"])

    assert saga_stack.wait_finished(saga_id) == "SagaCompensated"
    ran = [e["operator"] for e in executions(saga_stack.execution_log, saga_id)]
    assert ran == ["reserve", "charge", "ship", "refund", "release"]
    assert saga_stack.step_events(saga_id, "CompensationSucceeded") == [
        ("CompensationSucceeded", "charge", 1),
        ("CompensationSucceeded", "reserve", 1),
    ]
    (compensated,) = saga_stack.collector.events(saga_id, "SagaCompensated")
    assert compensated.payload.failed_step == "ship"
    assert compensated.payload.compensated_steps == ["charge", "reserve"]
    saga, steps = saga_stack.read_model(saga_id, "compensated")
    assert saga["failed_step"] == "ship" and saga["compensated_steps"] == ["charge", "reserve"]
    assert [(s["step_name"], s["status"], s["compensation_status"]) for s in steps] == [
        ("reserve", "succeeded", "compensated"),
        ("charge", "succeeded", "compensated"),
        ("ship", "failed", None),
    ]
    assert "auth" in steps[2]["last_error"]


def test_a_coordinator_killed_mid_saga_resumes_it_and_runs_no_step_twice(saga_stack: SagaStack) -> None:
    # Three sagas at different points: the first is killed mid-way, the others a step or so behind.
    saga_id = saga_stack.start(delay_s=2.0)
    others = [saga_stack.start(delay_s=delay) for delay in (1.0, 1.5)]
    wait_until(
        saga_stack.stack,
        "the second step to start",
        lambda: [e for e in saga_stack.collector.events(saga_id, "SagaStepStarted") if e.payload.step_name == "charge"],
        SAGA_TIMEOUT_S,
    )

    saga_stack.stack.kill("saga_coordinator")
    # While the coordinator is down the second step finishes; its result waits in the topic.
    wait_until(
        saga_stack.stack,
        "the second step to finish",
        lambda: [e for e in saga_stack.collector.events(saga_id, "TaskSucceeded") if "/charge/" in e.payload.task_id],
        30.0,
        services_up=False,
    )
    saga_stack.stack.restart("saga_coordinator")

    for saga in (saga_id, *others):
        assert saga_stack.wait_finished(saga, STARTUP_TIMEOUT_S) == "SagaCompleted"
        ran = [(e["operator"], e["task_id"]) for e in executions(saga_stack.execution_log, saga)]
        assert ran == [(op, f"{saga}/{op}/a1") for op in ("reserve", "charge", "ship")], f"saga {saga}"
        created = saga_stack.collector.events(saga, "TaskCreated")
        assert sorted(e.payload.task_id for e in created) == sorted(task for _, task in ran)
        _, steps = saga_stack.read_model(saga, "completed")
        assert [(s["status"], s["attempts"]) for s in steps] == [("succeeded", 1)] * 3


def run_architect(saga_stack: SagaStack, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``architect ARGS`` in its own process against the stack's broker and read models."""
    env = os.environ | {
        "ARCHITECT_KAFKA_BOOTSTRAP_SERVERS": saga_stack.settings.kafka_bootstrap_servers,
        "DATABASE_URL": saga_stack.database_url,
        "COLUMNS": "400",
    }
    return subprocess.run(
        [sys.executable, "-m", "shared.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def architect(saga_stack: SagaStack, *args: str) -> str:
    """``architect ARGS``, which must succeed; its stdout."""
    result = run_architect(saga_stack, *args)
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


def test_a_failing_compensation_is_escalated_and_resolved_by_a_human_from_the_cli(
    saga_stack: SagaStack, tmp_path: Path
) -> None:
    name = f"escalation_{uuid.uuid4().hex[:6]}"
    definition = {
        "name": name,
        "steps": [
            {
                "name": "reserve",
                "action": {"operator": "reserve"},
                "compensation": {"operator": "release"},
                "compensation_retry": {"max_attempts": 2, "base_delay_seconds": 0.3, "jitter_ratio": 0},
            },
            {"name": "confirm", "action": {"command": "ConfirmOrder"}, "retry": {"max_attempts": 1}},
        ],
    }
    path = tmp_path / "escalation.yaml"
    path.write_text(yaml.safe_dump(definition))
    saga_id = architect(saga_stack, "sagas", "start", str(path), "--param", "fail_operators=[release]").strip()
    assert saga_id.startswith(f"saga-{name}-")
    wait_until(
        saga_stack.stack,
        "the command step to be requested",
        lambda: [e for e in saga_stack.collector.events(saga_id, "SagaStepStarted") if e.payload.kind == "command"],
        SAGA_TIMEOUT_S,
    )
    saga_stack.read_model(saga_id, "running")

    # A report for a step that is an operator can never apply: it is dead-lettered with the reason.
    architect(saga_stack, "sagas", "report", saga_id, "reserve")
    (letter,) = wait_until(
        saga_stack.stack,
        "the misdirected report to be dead-lettered",
        lambda: saga_stack.query(
            "SELECT * FROM dead_letters WHERE consumer_group = 'architect-saga-coordinator' AND error LIKE %s",
            f"%{saga_id}%",
        ),
        60.0,
    )
    assert letter["reason"] == "invalid_report" and "is not a command" in letter["error"]
    architect(saga_stack, "sagas", "report", saga_id, "confirm", "--failed", "--error", "the customer said no")

    (escalated,) = wait_until(
        saga_stack.stack,
        "the compensation to be escalated",
        lambda: saga_stack.collector.events(saga_id, "CompensationEscalated"),
        SAGA_TIMEOUT_S,
    )
    assert (escalated.payload.step_name, escalated.payload.attempts) == ("reserve", 2)
    assert escalated.payload.steps_left == ["reserve"]
    ran = [e["operator"] for e in executions(saga_stack.execution_log, saga_id)]
    assert ran == ["reserve", "release", "release"]
    saga, _ = saga_stack.read_model(saga_id, "compensation_escalated")
    assert saga["escalated_step"] == "reserve"
    assert "escalated" in architect(saga_stack, "sagas", "show", saga_id)

    architect(saga_stack, "sagas", "resolve", saga_id, "reserve", "--manual", "--comment", "released by hand")

    assert saga_stack.wait_finished(saga_id) == "SagaCompensated"
    saga, steps = saga_stack.read_model(saga_id, "compensated")
    assert saga["failed_step"] == "confirm" and saga["compensated_steps"] == ["reserve"]
    assert (steps[0]["compensation_status"], steps[0]["compensation_manual"]) == ("compensated", True)
    assert (steps[1]["status"], steps[1]["last_error"]) == ("failed", "the customer said no")
    assert saga_id in architect(saga_stack, "sagas", "list", "--status", "compensated")
    shown = architect(saga_stack, "sagas", "show", saga_id)
    assert "compensated (by hand)" in shown and "the customer said no" in shown


def test_the_gateway_starts_lists_shows_and_resolves_sagas(saga_stack: SagaStack) -> None:
    keys = "starter-key=starter:submit,ops-key=ops:approve,reader-key=reader"
    app = create_app(
        Settings(
            kafka_bootstrap_servers=saga_stack.settings.kafka_bootstrap_servers, database_url=saga_stack.database_url
        ),
        GatewaySettings(api_keys=SecretStr(keys), allow_dev_key=False, publish_timeout_s=10, readiness_timeout_s=2),
    )
    starter, ops, reader = ({"X-API-Key": f"{who}-key"} for who in ("starter", "ops", "reader"))
    with TestClient(app) as client:
        accepted = client.post("/sagas", json={"definition": saga_stack.definition}, headers=starter)
        assert accepted.status_code == 202, accepted.text
        saga_id = accepted.json()["saga_id"]
        assert accepted.headers["Location"] == f"/sagas/{saga_id}"
        assert saga_stack.wait_finished(saga_id) == "SagaCompleted"
        saga_stack.read_model(saga_id, "completed")
        detail = client.get(f"/sagas/{saga_id}", headers=reader).json()
        assert (detail["status"], detail["started_by"]) == ("completed", "starter")
        assert [(s["step_name"], s["status"]) for s in detail["steps"]] == [
            ("reserve", "succeeded"),
            ("charge", "succeeded"),
            ("ship", "succeeded"),
        ]
        listed = client.get("/sagas", params={"status": "completed", "limit": 500}, headers=reader).json()
        assert saga_id in [s["saga_id"] for s in listed["items"]]
        assert client.get("/sagas/saga-unknown", headers=reader).status_code == 404
        resolve = {"resolution": "retry"}
        assert client.post(f"/sagas/{saga_id}/steps/0/resolve", json=resolve, headers=ops).status_code == 409
        assert client.post(f"/sagas/{saga_id}/steps/0/resolve", json=resolve, headers=starter).status_code == 403
        assert client.post("/sagas", json={"definition": ""}, headers=starter).status_code == 422

        # A compensation that keeps failing is escalated; a human with the approve scope resolves it.
        body = {
            "definition": "undo_fails",
            "params": {"fail_operators": ["release", "ship"]},
            "definition_body": {
                "name": "undo_fails",
                "steps": [
                    {
                        "name": "reserve",
                        "action": {"operator": "reserve"},
                        "compensation": {"operator": "release"},
                        "compensation_retry": {"max_attempts": 1},
                    },
                    {"name": "ship", "action": {"operator": "ship"}},
                ],
            },
        }
        escalating = client.post("/sagas", json=body, headers=starter).json()["saga_id"]
        saga_stack.read_model(escalating, "compensation_escalated")
        answer = client.post(
            f"/sagas/{escalating}/steps/0/resolve", json={"resolution": "compensated_manually"}, headers=ops
        )
        assert answer.status_code == 202, answer.text
        assert saga_stack.wait_finished(escalating) == "SagaCompensated"
        (resolved,) = saga_stack.collector.events(escalating, "CompensationResolved")
        assert (resolved.payload.resolution, resolved.payload.resolved_by) == ("compensated_manually", "ops")


def test_a_running_saga_aborted_by_hand_from_the_cli_ends_compensated_with_the_reason(saga_stack: SagaStack) -> None:
    saga_id = saga_stack.start(slow_operators={"charge": 3.0})
    wait_until(
        saga_stack.stack,
        "the second step to start",
        lambda: [e for e in saga_stack.collector.events(saga_id, "SagaStepStarted") if e.payload.step_name == "charge"],
        SAGA_TIMEOUT_S,
    )
    saga_stack.read_model(saga_id, "running")

    reason = "the customer changed their mind"
    shown = architect(saga_stack, "sagas", "abort", saga_id, "--reason", reason, "--as", "ops")
    assert f"abort of {saga_id} requested: {reason}" in " ".join(shown.split())

    assert saga_stack.wait_finished(saga_id) == "SagaCompensated"
    (aborted,) = saga_stack.collector.events(saga_id, "SagaAborted")
    assert (aborted.payload.reason, aborted.payload.requested_by) == (reason, "ops")
    assert aborted.payload.waiting_for == "charge", "the step in flight is awaited before anything is undone"
    (compensated,) = saga_stack.collector.events(saga_id, "SagaCompensated")
    assert (compensated.payload.reason, compensated.payload.compensated_steps) == (reason, ["charge", "reserve"])
    ran = [e["operator"] for e in executions(saga_stack.execution_log, saga_id)]
    assert ran == ["reserve", "charge", "refund", "release"], "no further step started; undone in reverse order"
    saga, steps = saga_stack.read_model(saga_id, "compensated")
    assert saga["reason"] == reason
    assert [(s["step_name"], s["compensation_status"]) for s in steps[:2]] == [
        ("reserve", "compensated"),
        ("charge", "compensated"),
    ]

    again = run_architect(saga_stack, "sagas", "abort", saga_id)
    said = " ".join((again.stderr + again.stdout).split())
    assert again.returncode == 1 and "has finished: compensated: nothing to abort" in said
    unknown = run_architect(saga_stack, "sagas", "abort", "saga-nobody-knows")
    assert unknown.returncode == 1 and "no saga 'saga-nobody-knows'" in unknown.stderr + unknown.stdout
