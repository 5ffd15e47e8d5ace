"""The drift monitor on a real broker, with the assigner and an agent runtime hosting scripted drifting agents.

Each scenario (gradual semantic drift, format drift, tool avoidance) pairs a drifting agent with a steady one
of the same kind, on a capability of their own. The test creates drift-aware tasks in waves of two (one per
agent: each has capacity 1, and the first task of a wave goes to the more stable agent) and follows the events:
the drifter's alert comes within 50 interactions of its drift onset, the first task of each wave moves to the
steady agent once the drifter is less stable, anchors ride on the drifter's assignments, the reset request is
carried out by the runtime, and after a new baseline the drifter scores stable again. EMC runs every
``CONSOLIDATION_INTERVAL`` interactions: the runtime applies each consolidation the monitor asks for.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka.admin import AdminClient, ConfigResource
from psycopg.rows import dict_row

from services.drift_monitor.baseline import DEFAULT_BASELINE_SIZE as BASELINE_SIZE
from services.drift_monitor.record_store import item_key
from services.drift_monitor.service import APP_ID as DRIFT_MONITOR
from services.drift_monitor.service import TABLE as DRIFT_TABLE
from shared.bus.changelog import COMPACTING_CHANGELOG
from shared.bus.client_config import kafka_config
from shared.bus.partitioning import changelog_topic
from shared.bus.producer import EventProducer
from shared.bus.reader import read_to_end
from shared.bus.topics import AGENTS_ASSIGNMENTS, AGENTS_EVENTS, DRIFT_EVENTS, TASKS_EVENTS
from shared.db.connection import connect
from shared.db.schema import migrate
from shared.events.catalogue.tasks import TaskCreated
from shared.events.codec import new_event
from shared.events.envelope import Envelope
from shared.infra.postgres_server import fresh_database
from shared.infra.stack import LocalStack, ServiceSpec
from shared.settings import Settings
from tests.e2e.event_tap import EventTap
from tests.unit.drift.test_record_store import MAX_SAMPLE_WRITE_BYTES

ONSET = 25
RAMP = 10
CONSOLIDATION_INTERVAL = 30
DETECTION_LIMIT = 50
MAX_WAVES = 150
#: Behaviour seeds of the drifting scripts (the backend adds crc32(agent id) to the configured seed).
SCENARIO_SEEDS = {"semantic": 1, "format": 1, "tool_avoidance": 3}
SETTLE_S = 0.3


@dataclass
class Scenario:
    kind: str
    tag: str

    @property
    def capability(self) -> str:
        return f"drift-{self.kind}-{self.tag}"

    @property
    def drifter(self) -> str:
        # "a-" sorts first: with equal stability and load, drift-aware routing prefers the drifter.
        return f"a-{self.kind}-{self.tag}".replace("_", "-")

    @property
    def steady(self) -> str:
        return f"b-{self.kind}-{self.tag}".replace("_", "-")


def _agent(agent_id: str, capability: str, kind: str, behaviour_seed: int, onset: int) -> dict[str, Any]:
    return {
        "id": agent_id,
        "capabilities": [capability],
        "backend": {
            "kind": "scripted",
            "latency_s": 0.0,
            "seed": behaviour_seed - zlib.crc32(agent_id.encode()),
            "drift": {"kind": kind, "onset": onset, "ramp": RAMP},
        },
    }


def write_fleet(directory: Path, tag: str, scenarios: list[Scenario]) -> Path:
    agents = []
    for s in scenarios:
        agents.append(_agent(s.drifter, s.capability, s.kind, SCENARIO_SEEDS[s.kind], ONSET))
        agents.append(_agent(s.steady, s.capability, s.kind, 7, 10**9))
    path = directory / "fleet.yaml"
    runtime = {"id": f"drift-{tag}", "heartbeat_s": 1, "drain_timeout_s": 5}
    path.write_text(yaml.safe_dump({"runtime": runtime, "agents": agents}))
    return path


@dataclass
class DriftStack:
    stack: LocalStack
    tap: EventTap
    producer: EventProducer
    scenarios: dict[str, Scenario]
    database_url: str

    def query(self, sql: str, *args: object) -> list[dict[str, Any]]:
        with connect(self.database_url) as conn, conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(sql, args).fetchall()

    def wait(self, what: str, check: Any, timeout_s: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while True:
            self.stack.check()
            found = check()
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s:g}s waiting for {what}")
            time.sleep(0.05)

    def of(self, event_type: str, agent_id: str, **fields: Any) -> list[Envelope[Any]]:
        return self.tap.events(
            types=[event_type],
            where=lambda e: (
                e.payload.agent_id == agent_id and all(getattr(e.payload, k) == v for k, v in fields.items())
            ),
        )


@pytest.fixture(scope="module")
def drift_stack(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DriftStack]:
    directory = tmp_path_factory.mktemp("drift")
    tag = uuid.uuid4().hex[:6]
    scenarios = [Scenario(kind, tag) for kind in SCENARIO_SEEDS]
    fleet = write_fleet(directory, tag, scenarios)
    tap = EventTap(settings, [TASKS_EVENTS, AGENTS_EVENTS, AGENTS_ASSIGNMENTS, DRIFT_EVENTS])
    env = {
        "ARCHITECT_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "ARCHITECT_DATA_DIR": str(directory / "data"),
        "ARCHITECT_DRIFT_CONSOLIDATION_INTERVAL": str(CONSOLIDATION_INTERVAL),
    }
    read_models = fresh_database(settings.database_url, f"drift_{tag}")
    with connect(read_models) as conn:
        migrate(conn)
    stack = LocalStack(settings.kafka_bootstrap_servers, read_models, directory / "logs", extra_env=env)
    producer = EventProducer(settings, client_id="drift-tests")
    running = DriftStack(stack, tap, producer, {s.kind: s for s in scenarios}, read_models)
    try:
        services = ["assigner", "drift_monitor", "projector", ServiceSpec("agent_runtime", ("--config", str(fleet)))]
        stack.start_all(services)
        for s in scenarios:
            for agent_id in (s.drifter, s.steady):
                running.wait(f"{agent_id} to register", lambda a=agent_id: running.of("AgentRegistered", a), 120)
        yield running
    finally:
        codes = stack.stop()
        producer.close()
        tap.close()
        print(f"\ndrift stack stopped (exit codes {codes}); logs in {stack.log_dir}")


@dataclass
class Wave:
    number: int
    first_agent: str
    drifter_stability: float | None
    steady_stability: float | None
    drifter_reset_requested: bool


@dataclass
class Run:
    waves: list[Wave] = field(default_factory=list)


def latest_stability(stack: DriftStack, agent_id: str) -> float | None:
    """The stability the assigner last heard for the agent: a reset makes it 1.0 again."""
    events = stack.tap.events(types=["StabilityScored", "AgentReset"], where=lambda e: e.payload.agent_id == agent_id)
    if not events:
        return None
    last = events[-1]
    return 1.0 if last.type == "AgentReset" else last.payload.stability


def run_wave(stack: DriftStack, scenario: Scenario, number: int) -> Wave:
    drifter_stability = latest_stability(stack, scenario.drifter)
    steady_stability = latest_stability(stack, scenario.steady)
    reset_requested = bool(stack.of("AgentResetRequested", scenario.drifter))
    goal_id = f"{scenario.capability}-wave-{number}"
    task_ids = [f"{goal_id}-{n}" for n in (1, 2)]
    for task_id in task_ids:
        created = TaskCreated(
            task_id=task_id, goal_id=goal_id, operator="work", capability=scenario.capability, strategy="drift_aware"
        )
        stack.producer.publish(new_event(created, producer="drift-tests", stream_id=goal_id, correlation_id=goal_id))
    stack.producer.flush()

    def sampled() -> list[Envelope[Any]] | None:
        samples = stack.tap.events(types=["BehaviourSampled"], where=lambda e: e.payload.task_id in task_ids)
        return samples if len(samples) == 2 else None

    samples = stack.wait(f"wave {number} of {scenario.kind} to be sampled", sampled)
    sample_ids = {s.event_id for s in samples}
    # Scored samples yield a StabilityScored; baseline ones do not, so give those a moment instead.
    scored = stack.tap.events(types=["StabilityScored"], where=lambda e: e.causation_id in sample_ids)
    if len(scored) < 2:
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and len(scored) < 2:
            time.sleep(0.05)
            scored = stack.tap.events(types=["StabilityScored"], where=lambda e: e.causation_id in sample_ids)
    time.sleep(SETTLE_S)
    [first] = stack.tap.events(types=["TaskAssigned"], where=lambda e: e.payload.task_id == task_ids[0])
    return Wave(number, first.payload.agent_id, drifter_stability, steady_stability, reset_requested)


def drive(stack: DriftStack, scenario: Scenario) -> Run:
    """Waves until the drifter was reset and scored again after its new baseline."""
    run = Run()
    for number in range(1, MAX_WAVES + 1):
        run.waves.append(run_wave(stack, scenario, number))
        resets = stack.of("AgentReset", scenario.drifter)
        if resets and _scored_after_new_baseline(stack, scenario.drifter):
            return run
    raise AssertionError(f"{scenario.kind}: no reset and re-baseline within {MAX_WAVES} waves")


def _scored_after_new_baseline(stack: DriftStack, agent_id: str) -> list[Envelope[Any]]:
    events = stack.tap.events(
        types=["AgentReset", "BaselineEstablished", "StabilityScored"], where=lambda e: e.payload.agent_id == agent_id
    )
    types = [e.type for e in events]
    if "AgentReset" not in types:
        return []
    after_reset = events[types.index("AgentReset") + 1 :]
    after_types = [e.type for e in after_reset]
    if "BaselineEstablished" not in after_types:
        return []
    return [e for e in after_reset[after_types.index("BaselineEstablished") + 1 :] if e.type == "StabilityScored"]


@pytest.mark.parametrize("kind", list(SCENARIO_SEEDS))
def test_drift_is_detected_routed_around_anchored_and_reset(drift_stack: DriftStack, kind: str) -> None:
    scenario = drift_stack.scenarios[kind]
    run = drive(drift_stack, scenario)

    # Detected within 50 interactions of the onset (the monitor counts the session's interactions).
    [baseline, *_] = drift_stack.of("BaselineEstablished", scenario.drifter)
    assert baseline.payload.interaction == 20
    alerts = drift_stack.of("DriftAlert", scenario.drifter)
    assert alerts, f"{kind}: no DriftAlert"
    assert ONSET < alerts[0].payload.interaction <= ONSET + DETECTION_LIMIT
    first = alerts[0].payload
    # Raised by the stability EMA (below 0.6) or, usually sooner, by the CUSUM naming the shifted component.
    if first.reason == "stability":
        assert first.stability < 0.6
    else:
        assert first.reason == "cusum" and first.component is not None and first.statistic > first.limit
    # The steady agent of the same kind never alerts.
    assert not drift_stack.of("DriftAlert", scenario.steady)

    # Drift-aware routing: once the drifter is clearly less stable, the first task of each wave avoids it.
    diverged = [
        w
        for w in run.waves
        if w.drifter_stability is not None
        and w.steady_stability is not None
        and w.drifter_stability < w.steady_stability - 0.1
        and not w.drifter_reset_requested
    ]
    assert diverged, f"{kind}: the drifter never fell clearly below the steady agent before its reset request"
    assert [w.first_agent for w in diverged] == [scenario.steady] * len(diverged)

    # ABA: assignments to the drifting agent carried baseline examples as anchors.
    anchored = drift_stack.tap.events(
        types=["ExecuteTask"], where=lambda e: e.payload.agent_id == scenario.drifter and e.payload.anchors
    )
    assert anchored, f"{kind}: no anchored assignment"
    assert all(1 <= len(e.payload.anchors) <= 5 for e in anchored)

    # The reset: requested below 0.5 (or for a shift persisting after its alarm), carried out by the runtime,
    # and the new session scores stable again.
    [request] = drift_stack.of("AgentResetRequested", scenario.drifter)
    if request.payload.reason == "stability":
        assert request.payload.stability < 0.5
    else:
        assert request.payload.reason == "shift" and request.payload.component is not None
    [reset] = drift_stack.of("AgentReset", scenario.drifter)
    assert reset.causation_id == request.event_id
    rescored = _scored_after_new_baseline(drift_stack, scenario.drifter)
    assert rescored[0].payload.stability >= 0.9
    # After the reset the drifter works again: a wave's task went to it.
    reset_wave = next(w.number for w in run.waves if w.drifter_reset_requested)
    later = drift_stack.tap.events(
        types=["TaskAssigned"],
        where=lambda e: (
            e.payload.agent_id == scenario.drifter
            and e.payload.goal_id.startswith(f"{scenario.capability}-wave-")
            and int(e.payload.goal_id.rsplit("-", 1)[1]) > reset_wave
        ),
    )
    assert later


def test_memory_consolidation_is_applied_by_the_runtime(drift_stack: DriftStack) -> None:
    scenario = drift_stack.scenarios["semantic"]
    if len(drift_stack.of("BehaviourSampled", scenario.steady)) < CONSOLIDATION_INTERVAL:
        drive(drift_stack, scenario)
    [request, *_] = drift_stack.of("ConsolidationRequested", scenario.steady)
    assert request.payload.through == CONSOLIDATION_INTERVAL
    assert len(request.payload.entries) == CONSOLIDATION_INTERVAL
    applied = drift_stack.wait(
        "the consolidation to be applied",
        lambda: drift_stack.of("ConsolidationApplied", scenario.steady, through=CONSOLIDATION_INTERVAL),
    )
    assert applied[0].causation_id == request.event_id
    assert applied[0].payload.kept == 20 and applied[0].payload.summary


def test_read_models_and_the_cli_show_scores_and_alerts(drift_stack: DriftStack) -> None:
    scenario = drift_stack.scenarios["semantic"]
    if not drift_stack.of("AgentReset", scenario.drifter):
        drive(drift_stack, scenario)
    last_score = drift_stack.of("StabilityScored", scenario.drifter)[-1].payload

    def projected() -> list[dict[str, Any]] | None:
        rows = drift_stack.query("SELECT * FROM agent_drift WHERE agent_id = %s", scenario.drifter)
        return rows if rows and rows[0]["interaction"] == last_score.interaction else None

    [row] = drift_stack.wait("the drifter's row to catch up", projected)
    assert row["status"] == "stable" and row["stability"] == pytest.approx(last_score.stability)
    assert row["last_alert_at"] is not None and row["last_reset_at"] is not None
    kinds = {
        r["kind"] for r in drift_stack.query("SELECT kind FROM drift_alerts WHERE agent_id = %s", scenario.drifter)
    }
    assert {"alert", "reset_requested", "reset"} <= kinds

    cli = subprocess.run(
        [sys.executable, "-m", "shared.cli.main", "agents", "drift", scenario.drifter, "--json"],
        env=os.environ | {"DATABASE_URL": drift_stack.database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    shown = json.loads(cli.stdout)
    assert [a["agent_id"] for a in shown["agents"]] == [scenario.drifter]
    assert {"alert", "reset"} <= {a["kind"] for a in shown["alerts"]}
    table = subprocess.run(
        [sys.executable, "-m", "shared.cli.main", "agents", "drift"],
        env=os.environ | {"DATABASE_URL": drift_stack.database_url, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert scenario.drifter in table.stdout and "Recent drift events" in table.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "shared.cli.main", "agents", "drift", "nobody-here"],
        env=os.environ | {"DATABASE_URL": drift_stack.database_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1 and "no drift scores" in missing.stderr


def test_the_changelog_compacts_and_no_write_is_big(drift_stack: DriftStack, settings: Settings) -> None:
    """A restarted drift monitor reads its table's changelog back before it handles a sample: the changelog
    is created to be compacted while it is written, and no write is big (each baseline sample is written once,
    with its embedding, under a key of its own; the record under the agent id only counts them)."""
    scenario = drift_stack.scenarios["semantic"]
    if not drift_stack.of("AgentReset", scenario.drifter):
        drive(drift_stack, scenario)
    topic = changelog_topic(DRIFT_MONITOR, DRIFT_TABLE)
    admin = AdminClient(kafka_config(settings))
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(30)
    assert configs["cleanup.policy"].value == "compact"
    assert {key: configs[key].value for key in COMPACTING_CHANGELOG} == COMPACTING_CHANGELOG

    writes: dict[str, list[int]] = {}
    for record in read_to_end(settings, [topic]):
        assert record.key is not None
        writes.setdefault(json.loads(record.key), []).append(len(record.value or b""))
    # This module's agents (a broker kept from an earlier session holds others, maybe stored differently).
    biggest = max(size for key, sizes in writes.items() if scenario.tag in key for size in sizes)
    assert biggest <= MAX_SAMPLE_WRITE_BYTES
    for agent_id in (scenario.drifter, scenario.steady):
        sessions = 1 + len(drift_stack.of("AgentReset", agent_id))
        for index in range(BASELINE_SIZE):  # written once per session (compaction keeps the latest)
            assert 1 <= len(writes[item_key(agent_id, index)]) <= sessions
