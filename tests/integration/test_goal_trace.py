"""One trace per goal, across processes: the real stack (gateway, orchestrator, assigner, scheduler, projector,
saga coordinator, consensus, an agent runtime) exports OTLP/HTTP to a receiver in this process; a goal submitted
through the gateway, whose first task fails once and is retried through the scheduler, must arrive as one trace
rooted at the gateway's HTTP request, every consumer span the child of the span that produced its record, no orphans."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from services.agent_runtime.backends.contract import BackendFailure, TaskRequest
from shared.db.connection import connect
from shared.db.schema import migrate
from shared.infra.postgres_server import fresh_database
from shared.infra.stack import CORE_SERVICES, LocalStack, ServiceSpec
from shared.settings import Settings
from tests.integration.otlp_receiver import OtlpReceiver, goal_trace_problems, otlp_receiver

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]
STARTUP_TIMEOUT_S = 180.0
API_KEY = "trace-test-key"
GOAL_TYPE = "traced_change"
#: The services whose spans the goal's trace must contain (service.name as each configures it).
TRACED_SERVICES = ("gateway", "orchestrator", "assigner", "scheduler", "agent-runtime", "projector")


def fail_first_attempt(request: TaskRequest) -> dict[str, Any]:
    """A callable backend: the first attempt of ``draft`` crashes (so the retry goes through the scheduler)."""
    if request.operator == "draft" and request.attempt == 1:
        raise BackendFailure("crash", "first attempt fails on purpose")
    return {"summary": f"{request.operator} by {request.agent_id}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_files(directory: Path, tag: str) -> tuple[Path, Path]:
    methods_dir = directory / "methods"
    methods_dir.mkdir()
    domain = {
        "operators": [
            {"name": "draft", "capability": f"draft-{tag}", "effects": ["drafted"]},
            {"name": "check", "capability": f"check-{tag}", "preconditions": ["drafted"], "effects": ["checked"]},
        ],
        "methods": [
            {
                "name": GOAL_TYPE,
                "task": GOAL_TYPE,
                "steps": [{"id": "draft", "task": "draft"}, {"id": "check", "task": "check"}],
            }
        ],
    }
    (methods_dir / "traced.yaml").write_text(yaml.safe_dump(domain))
    backend = {"kind": "callable", "target": f"{__name__}:fail_first_attempt"}
    fleet = {
        "runtime": {"id": f"trace-{tag}", "heartbeat_s": 1, "drain_timeout_s": 5},
        "agents": [
            {"id": f"drafter-{tag}", "capabilities": [f"draft-{tag}"], "backend": backend},
            {"id": f"checker-{tag}", "capabilities": [f"check-{tag}"], "backend": backend},
        ],
    }
    fleet_file = directory / "fleet.yaml"
    fleet_file.write_text(yaml.safe_dump(fleet))
    return fleet_file, methods_dir


@pytest.fixture(scope="module")
def traced_stack(
    settings: Settings, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalStack, OtlpReceiver, str]]:
    directory = tmp_path_factory.mktemp("trace")
    tag = uuid.uuid4().hex[:8]
    fleet_file, methods_dir = _write_files(directory, tag)
    read_models = fresh_database(database_url, f"trace_{tag}")
    with connect(read_models) as conn:
        migrate(conn)
    port = _free_port()
    with otlp_receiver() as receiver:
        env = {
            "ARCHITECT_TOPIC_PARTITIONS": str(settings.topic_partitions),
            "ARCHITECT_DATA_DIR": str(directory / "data"),
            "ARCHITECT_ORCHESTRATOR_METHODS_DIR": str(methods_dir),
            "ARCHITECT_ASSIGNER_RETRY_POLICY": "exponential",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
        stack = LocalStack(settings.kafka_bootstrap_servers, read_models, directory / "logs", extra_env=env)
        gateway_env = {"ARCHITECT_GATEWAY_PORT": str(port), "ARCHITECT_GATEWAY_API_KEYS": f"{API_KEY}=tracer:submit"}
        try:
            stack.start_all(
                [
                    *CORE_SERVICES,
                    ServiceSpec("agent_runtime", ("--config", str(fleet_file))),
                    ServiceSpec("gateway", env=gateway_env),
                ]
            )
            gateway = f"http://127.0.0.1:{port}"
            _wait(stack, "the gateway to be ready", lambda: _ready(gateway), STARTUP_TIMEOUT_S)
            yield stack, receiver, gateway
        finally:
            codes = stack.stop()
            print(f"\ntraced stack stopped (exit codes {codes}); logs in {stack.log_dir}")


def _ready(gateway: str) -> bool:
    try:
        return httpx.get(f"{gateway}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _wait(stack: LocalStack, what: str, predicate: Any, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stack.check()
        result = predicate()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def _status(gateway: str, goal_id: str) -> str | None:
    response = httpx.get(f"{gateway}/goals/{goal_id}", headers={"X-API-Key": API_KEY}, timeout=5)
    return response.json().get("status") if response.status_code == 200 else None


def test_a_goal_is_one_trace_across_every_service_and_agent(
    traced_stack: tuple[LocalStack, OtlpReceiver, str],
) -> None:
    stack, receiver, gateway = traced_stack
    goal_id = f"traced-{uuid.uuid4().hex[:8]}"
    response = httpx.post(
        f"{gateway}/goals",
        headers={"X-API-Key": API_KEY},
        json={"goal_type": GOAL_TYPE, "goal_id": goal_id, "title": "trace me"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    _wait(stack, f"goal {goal_id} to complete", lambda: _status(gateway, goal_id) == "completed", 120)

    def settled() -> bool:
        """The projector's span of GoalCompleted arrived (the last of the goal) and the trace is well formed."""
        spans = [s for s in receiver.spans() if s.attributes.get("architect.event.correlation_id") == goal_id]
        projected = any(s.service == "projector" and s.name == "project GoalCompleted" for s in spans)
        return projected and not goal_trace_problems(receiver.spans(), goal_id, TRACED_SERVICES)

    try:
        _wait(stack, "the goal's spans to form one trace", settled, 30)
    except AssertionError:
        problems = goal_trace_problems(receiver.spans(), goal_id, TRACED_SERVICES)
        pytest.fail("the goal's trace is not one well-formed trace:\n" + "\n".join(problems[:40]))

    spans = [s for s in receiver.spans() if s.attributes.get("architect.event.correlation_id") == goal_id]
    (trace_id,) = {s.trace_id for s in spans}
    in_trace = [s for s in receiver.spans() if s.trace_id == trace_id]
    (root,) = [s for s in in_trace if not s.parent_id]
    assert (root.service, root.name) == ("gateway", "POST /goals"), "the trace starts at the HTTP request"
    (submitted,) = [s for s in in_trace if s.name == "publish SubmitGoal"]
    by_id = {s.span_id: s for s in in_trace}
    ancestor = submitted
    while ancestor.parent_id:
        ancestor = by_id[ancestor.parent_id]
        assert ancestor.service == "gateway", "the command is published within the gateway's request"
    assert ancestor is root
    names = {(s.service, s.name) for s in in_trace}
    for expected in [
        ("scheduler", "fire TaskRetryDue"),
        ("orchestrator", "process SubmitGoal"),
        ("assigner", "assign TaskCreated"),
        ("agent-runtime", "process ExecuteTask"),
        ("agent-runtime", "publish TaskFailed"),
        ("assigner", "assign TaskFailed"),
        ("scheduler", "process ScheduleEvent"),
        ("scheduler", "publish TaskRetryDue"),
        ("assigner", "assign TaskRetryDue"),
        ("agent-runtime", "publish TaskSucceeded"),
        ("orchestrator", "process TaskSucceeded"),
        ("orchestrator", "publish GoalCompleted"),
        ("projector", "project GoalCompleted"),
    ]:
        assert expected in names, f"{expected} missing from the trace: {sorted(names)}"
