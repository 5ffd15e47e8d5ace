"""The gateway against the real broker and Postgres: commands land on Kafka only when allowed and well formed, and
are read back from the topics; queries answer from read models the real projector built from events on Kafka.

The broker is shared with concurrent sessions, so every assertion filters by ids and caller names unique to this
module, and command topics are read only from the offsets they had before the request.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from confluent_kafka import TopicPartition
from fastapi.testclient import TestClient
from pydantic import SecretStr

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from services.projector import service as projector_service
from services.projector.service import Projector
from shared.bus.producer import EventProducer
from shared.bus.reader import end_offsets, read_assigned, scan_consumer
from shared.bus.topics import AGENTS_COMMANDS, GOALS_COMMANDS, GOALS_EVENTS
from shared.db.connection import connect
from shared.db.schema import migrate
from shared.events.catalogue.agents import AgentHeartbeat, BreakerStateChanged
from shared.events.catalogue.goals import ApprovalRequested, GoalPlanned, GoalSubmitted, PlannedTask
from shared.events.catalogue.tasks import TaskCreated
from shared.events.codec import DecodeError, decode, new_event
from shared.events.envelope import Envelope
from shared.infra.postgres_server import fresh_database
from shared.settings import Settings
from tests.conftest import unique
from tests.integration.kafka_helpers import wait_for
from tests.integration.projector_helpers import goal_stream, publish_all

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
ALICE, BOB, ROOT, READER = (f"{who}-{RUN}" for who in ("alice", "bob", "root", "reader"))
API_KEYS = (
    f"alice-key-{RUN}={ALICE}:submit,bob-key-{RUN}={BOB}:approve,root-key-{RUN}={ROOT}:admin,reader-{RUN}={READER}"
)
AS_ALICE = {"X-API-Key": f"alice-key-{RUN}"}
AS_BOB = {"Authorization": f"Bearer bob-key-{RUN}"}
AS_ROOT = {"X-API-Key": f"root-key-{RUN}"}
AS_READER = {"X-API-Key": f"reader-{RUN}"}
UNREACHABLE_KAFKA = "127.0.0.1:1"
UNREACHABLE_POSTGRES = "postgresql://nobody@127.0.0.1:1/nothing"
BROKEN_RECORD = b"{broken json"


def gateway_settings(*, publish_timeout_s: float = 10.0) -> GatewaySettings:
    return GatewaySettings(
        api_keys=SecretStr(API_KEYS), allow_dev_key=False, publish_timeout_s=publish_timeout_s, readiness_timeout_s=2
    )


# --- reading commands back from Kafka -------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    """A command as Kafka stored it."""

    key: str
    envelope: Envelope[Any]


Marks = dict[tuple[str, int], int]


def mark(settings: Settings, topic: str) -> Marks:
    """The end offset of every partition of ``topic``: what is published after this is read by ``published_since``."""
    consumer = scan_consumer(settings)
    try:
        return {tp: high for tp, (_, high) in end_offsets(consumer, [topic]).items()}
    finally:
        consumer.close()


def published_since(settings: Settings, topic: str, marks: Marks) -> list[Published]:
    """Every decodable record of ``topic`` between ``marks`` and the current end (others' junk is skipped)."""
    consumer = scan_consumer(settings)
    try:
        ends = {tp: high for tp, (_, high) in end_offsets(consumer, [topic]).items()}
        targets = {tp: high for tp, high in ends.items() if high > marks.get(tp, 0)}
        if not targets:
            return []
        consumer.assign([TopicPartition(t, p, marks.get((t, p), 0)) for t, p in targets])
        records = [record for batch in read_assigned(consumer, targets, timeout_s=60) for record in batch]
    finally:
        consumer.close()
    published = []
    for record in records:
        try:
            published.append(Published((record.key or b"").decode(), decode(record.value, record.key)))
        except DecodeError:
            continue
    return published


def the_one(published: list[Published], event_id: str) -> Published:
    matches = [p for p in published if str(p.envelope.event_id) == event_id]
    assert len(matches) == 1, f"expected event {event_id} once on the topic, found {len(matches)}"
    return matches[0]


# --- read models built by the real projector ------------------------------------------------------------------


@dataclass(frozen=True)
class Projected:
    """What this module published and the projector wrote into its own database."""

    url: str
    done_goal: str
    done_events: list[Envelope[Any]]
    gated_goal: str
    build_task: str
    gates: tuple[str, str]
    agent_id: str
    broken_key: str
    projector_group: str


def gated_goal_stream(goal_id: str) -> tuple[list[Envelope[Any]], str, tuple[str, str]]:
    """A goal whose build task was created and whose two release steps wait for approval."""
    build, ship, announce = (f"{goal_id}:{step}" for step in ("build", "ship", "announce"))

    def ev(payload: Any) -> Envelope[Any]:
        return new_event(payload, producer="gateway-test", stream_id=goal_id, correlation_id=goal_id)

    gated = {"requires_approval": True, "tier": "approval", "depends_on": [build]}
    events = [
        ev(GoalSubmitted(goal_id=goal_id, goal_type="release", title="a gated release", submitted_by=ALICE)),
        ev(
            GoalPlanned(
                goal_id=goal_id,
                method="release",
                tasks=[
                    PlannedTask(task_id=build, operator="code", capability="code"),
                    PlannedTask(task_id=ship, operator="ship", capability="deploy", **gated),
                    PlannedTask(task_id=announce, operator="announce", capability="write", **gated),
                ],
            )
        ),
        ev(TaskCreated(task_id=build, goal_id=goal_id, operator="code", capability="code")),
        ev(ApprovalRequested(goal_id=goal_id, task_id=ship, operator="ship", prompt="ship it?")),
        ev(ApprovalRequested(goal_id=goal_id, task_id=announce, operator="announce")),
    ]
    return events, build, (ship, announce)


def agent_under_load(agent_id: str) -> list[Envelope[Any]]:
    """Two tasks in flight, and a breaker that opened after three failures."""

    def ev(payload: Any) -> Envelope[Any]:
        return new_event(payload, producer="gateway-test", stream_id=agent_id, correlation_id=agent_id)

    return [
        ev(AgentHeartbeat(agent_id=agent_id, in_flight=2, tokens_used=99)),
        ev(BreakerStateChanged(agent_id=agent_id, state="open", previous="closed", consecutive_failures=3)),
    ]


def read_models_ready(url: str, published: list[Envelope[Any]], projected: Projected) -> bool:
    """Every event this module published is logged (topics are projected at their own pace) and the broken
    record is a dead letter of this module's projector."""
    with connect(url) as conn:
        logged = conn.execute(
            "SELECT count(*) FROM events WHERE event_id = ANY(%s)", ([e.event_id for e in published],)
        ).fetchone()
        letters = conn.execute(
            "SELECT count(*) FROM dead_letters WHERE key = %s AND consumer_group = %s",
            (projected.broken_key.encode(), projected.projector_group),
        ).fetchone()
    return logged == (len(published),) and letters == (1,)


@pytest.fixture(scope="module")
def projected(settings: Settings, database_url: str) -> Iterator[Projected]:
    """Publish a finished goal, a gated goal, a loaded agent and a broken record; project them; stop the projector.

    The projector runs under consumer groups of its own, so a concurrent session's projector cannot take
    partitions from it; it reads every event topic from the start into a database of this module's own.
    """
    url = fresh_database(database_url, f"t_gateway_{RUN}")
    with connect(url) as conn:
        migrate(conn)
    done_goal, gated_goal, agent_id = unique("gw-done"), unique("gw-gated"), unique("gw-agent")
    done_events = goal_stream(done_goal, tasks=3, agent_id=agent_id)
    gated_events, build_task, gates = gated_goal_stream(gated_goal)
    projected = Projected(
        url=url,
        done_goal=done_goal,
        done_events=done_events,
        gated_goal=gated_goal,
        build_task=build_task,
        gates=gates,
        agent_id=agent_id,
        broken_key=unique("gw-broken"),
        projector_group=f"architect-projector-gateway-test-{RUN}",
    )
    published = done_events + gated_events + agent_under_load(agent_id)
    producer = EventProducer(settings, client_id="gateway-test")
    try:
        publish_all(producer, published)
        producer.publish_raw(GOALS_EVENTS, projected.broken_key.encode(), BROKEN_RECORD)
        producer.flush()
    finally:
        producer.close()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(projector_service, "GROUP", projected.projector_group)
        patch.setattr(projector_service, "DLQ_GROUP", f"{projected.projector_group}-dlq")
        projector = Projector(settings, url, max_batch=500)
    thread = threading.Thread(target=projector.run, daemon=True)
    thread.start()
    try:
        wait_for(
            lambda: read_models_ready(url, published, projected),
            timeout=90,
            message="the projector to write this module's events",
        )
    finally:
        projector.stop()
        thread.join(30)
    assert not thread.is_alive(), "the projector did not stop within 30s"
    yield projected


@pytest.fixture(scope="module")
def client(settings: Settings, projected: Projected) -> Iterator[TestClient]:
    """The app with its lifespan (a real producer), reading the module's read models."""
    app = create_app(settings.model_copy(update={"database_url": projected.url}), gateway_settings())
    with TestClient(app) as client:
        yield client


def find_in_pages(client: TestClient, path: str, found: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The first item of a paged listing for which ``found`` holds, following ``next_offset``."""
    offset: int | None = 0
    while offset is not None:
        response = client.get(path, params={"limit": 500, "offset": offset}, headers=AS_READER)
        assert response.status_code == 200, response.text
        body = response.json()
        for item in body["items"]:
            if found(item):
                return item
        offset = body["next_offset"]
    raise AssertionError(f"no matching item in {path}")


# --- commands -------------------------------------------------------------------------------------------------


def test_a_submitted_goal_is_on_the_goals_command_topic(settings: Settings, client: TestClient) -> None:
    before = mark(settings, GOALS_COMMANDS)
    goal_id = unique("gw-submit")
    body = {"goal_id": goal_id, "goal_type": "fix_bug", "title": "fix it", "params": {"issue": 7}, "priority": 3}

    response = client.post("/goals", headers=AS_ALICE, json=body)

    assert response.status_code == 202, response.text
    accepted = response.json()
    assert (accepted["goal_id"], accepted["command"]) == (goal_id, "SubmitGoal")
    assert response.headers["Location"] == f"/goals/{goal_id}"
    command = the_one(published_since(settings, GOALS_COMMANDS, before), accepted["event_id"])
    assert command.key == goal_id
    assert command.envelope.type == "SubmitGoal"
    assert (command.envelope.stream_id, command.envelope.correlation_id) == (goal_id, goal_id)
    payload = command.envelope.payload
    assert (payload.goal_id, payload.goal_type, payload.title) == (goal_id, "fix_bug", "fix it")
    assert (payload.params, payload.priority, payload.submitted_by) == ({"issue": 7}, 3, ALICE)


def test_a_goal_without_an_id_gets_one_and_a_retry_with_its_idempotency_key_keeps_it(
    settings: Settings, client: TestClient
) -> None:
    before = mark(settings, GOALS_COMMANDS)
    headers = AS_ALICE | {"Idempotency-Key": unique("retry")}

    first = client.post("/goals", headers=headers, json={"goal_type": "write_docs"})
    retry = client.post("/goals", headers=headers, json={"goal_type": "write_docs"})

    assert (first.status_code, retry.status_code) == (202, 202)
    assert first.json() == retry.json()
    goal_id = first.json()["goal_id"]
    assert goal_id.startswith("goal-")
    copies = [p for p in published_since(settings, GOALS_COMMANDS, before) if p.key == goal_id]
    assert {str(p.envelope.event_id) for p in copies} == {first.json()["event_id"]}
    assert copies[0].envelope.payload.goal_id == goal_id


def test_without_the_approve_scope_a_gate_decision_gets_403_and_nothing_is_published(
    settings: Settings, client: TestClient, projected: Projected
) -> None:
    before = mark(settings, GOALS_COMMANDS)
    gate = f"/goals/{projected.gated_goal}/approvals/{projected.gates[0]}"

    refusals = [
        client.post(f"{gate}/approve", headers=AS_ALICE, json={"comment": "lgtm"}),
        client.post(f"{gate}/reject", headers=AS_ALICE, json={"reason": "no"}),
        client.post(f"{gate}/approve", headers=AS_READER),
    ]

    assert [r.status_code for r in refusals] == [403, 403, 403]
    assert refusals[0].json()["detail"] == f"the API key of {ALICE!r} lacks the 'approve' scope"
    assert refusals[2].json()["detail"] == f"the API key of {READER!r} lacks the 'approve' scope"
    published = published_since(settings, GOALS_COMMANDS, before)
    assert [p for p in published if p.envelope.stream_id == projected.gated_goal] == []


def test_with_the_approve_scope_gate_decisions_are_published_as_the_caller(
    settings: Settings, client: TestClient, projected: Projected
) -> None:
    before = mark(settings, GOALS_COMMANDS)
    ship, announce = projected.gates
    goal = f"/goals/{projected.gated_goal}/approvals"

    approved = client.post(f"{goal}/{ship}/approve", headers=AS_BOB, json={"comment": "ship it"})
    rejected = client.post(f"{goal}/{announce}/reject", headers=AS_ROOT, json={"reason": "not this week"})

    assert (approved.status_code, rejected.status_code) == (202, 202), (approved.text, rejected.text)
    published = published_since(settings, GOALS_COMMANDS, before)
    approval = the_one(published, approved.json()["event_id"])
    rejection = the_one(published, rejected.json()["event_id"])
    assert (approval.key, approval.envelope.type) == (projected.gated_goal, "ApproveGate")
    assert approval.envelope.payload.model_dump() == {
        "goal_id": projected.gated_goal,
        "task_id": ship,
        "approver": BOB,
        "comment": "ship it",
    }
    assert (rejection.key, rejection.envelope.type) == (projected.gated_goal, "RejectGate")
    assert (rejection.envelope.payload.approver, rejection.envelope.payload.reason) == (ROOT, "not this week")


def test_a_decision_on_a_task_without_a_gate_or_a_finished_goal_is_refused(
    settings: Settings, client: TestClient, projected: Projected
) -> None:
    before = mark(settings, GOALS_COMMANDS)

    no_gate = client.post(f"/goals/{projected.gated_goal}/approvals/{projected.build_task}/approve", headers=AS_BOB)
    finished = client.post(f"/goals/{projected.done_goal}/approvals/{projected.done_goal}:t0/approve", headers=AS_BOB)
    unknown = client.post(f"/goals/{unique('gw-nope')}/approvals/t/approve", headers=AS_BOB)

    assert (no_gate.status_code, finished.status_code, unknown.status_code) == (404, 409, 404)
    assert no_gate.json()["detail"] == (
        f"no approval was requested for task {projected.build_task!r} of goal {projected.gated_goal!r}"
    )
    assert finished.json()["detail"] == f"goal {projected.done_goal!r} is already completed"
    published = published_since(settings, GOALS_COMMANDS, before)
    assert [p for p in published if p.envelope.payload.model_dump().get("approver") == BOB] == []


def test_cancel_publishes_for_a_running_goal_and_is_refused_for_a_finished_one(
    settings: Settings, client: TestClient, projected: Projected
) -> None:
    before = mark(settings, GOALS_COMMANDS)

    cancelled = client.post(f"/goals/{projected.gated_goal}/cancel", headers=AS_ALICE, json={"reason": "scope cut"})
    too_late = client.post(f"/goals/{projected.done_goal}/cancel", headers=AS_ALICE)

    assert cancelled.status_code == 202, cancelled.text
    assert too_late.status_code == 409
    command = the_one(published_since(settings, GOALS_COMMANDS, before), cancelled.json()["event_id"])
    assert command.envelope.type == "CancelGoal"
    assert command.envelope.payload.model_dump() == {
        "goal_id": projected.gated_goal,
        "reason": "scope cut",
        "requested_by": ALICE,
    }


def test_an_admin_registers_an_agent_on_the_agents_command_topic(settings: Settings, client: TestClient) -> None:
    before = mark(settings, AGENTS_COMMANDS)
    agent_id = unique("gw-coder")
    body = {"agent_id": agent_id, "capabilities": ["code", "tests"], "capacity": 3, "cost": 0.5, "model": "m-1"}

    refused = client.post("/agents", headers=AS_ALICE, json=body)
    registered = client.post("/agents", headers=AS_ROOT, json=body)

    assert refused.status_code == 403
    assert "'admin' scope" in refused.json()["detail"]
    assert registered.status_code == 202, registered.text
    published = [p for p in published_since(settings, AGENTS_COMMANDS, before) if p.key == agent_id]
    assert [p.envelope.type for p in published] == ["RegisterAgent"]
    payload = published[0].envelope.payload
    assert (payload.capabilities, payload.capacity, payload.cost, payload.model) == (["code", "tests"], 3, 0.5, "m-1")


def test_a_request_without_a_valid_key_gets_401_and_publishes_nothing(settings: Settings, client: TestClient) -> None:
    before = mark(settings, GOALS_COMMANDS)
    goal_id = unique("gw-anonymous")

    anonymous = client.post("/goals", json={"goal_id": goal_id, "goal_type": "fix_bug"})
    unknown = client.post("/goals", headers={"X-API-Key": "not-a-key"}, json={"goal_id": goal_id, "goal_type": "x"})
    query = client.get("/goals")

    assert [r.status_code for r in (anonymous, unknown, query)] == [401, 401, 401]
    assert anonymous.json()["detail"] == "missing API key: send it in X-API-Key or as Authorization: Bearer <key>"
    assert unknown.json()["detail"] == "unknown API key"
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    assert [p for p in published_since(settings, GOALS_COMMANDS, before) if p.key == goal_id] == []


@pytest.mark.parametrize(
    ("request_kwargs", "message"),
    [
        ({"json": {"goal_id": "{id}", "goal_typo": "fix_bug"}}, "body.goal_type: Field required"),
        ({"json": {"goal_id": "{id}", "goal_type": "fix_bug", "priority": 99}}, "body.priority: Input should be less"),
        ({"json": {"goal_id": "{id}", "goal_type": ""}}, "body.goal_type: String should have at least 1 character"),
        ({"json": {"goal_id": "{id} with spaces", "goal_type": "fix_bug"}}, "body.goal_id: String should match"),
        ({"json": {"goal_id": "{id}", "goal_type": "x", "params": [1]}}, "body.params: Input should be a valid dict"),
        ({"content": b'{"goal_id": "{id}", "goal_type": ', "headers": {"Content-Type": "application/json"}}, "JSON"),
        ({"content": b"goal_type=fix_bug", "headers": {"Content-Type": "text/plain"}}, "body: Input should be"),
    ],
)
def test_a_malformed_goal_gets_422_with_a_message_and_never_reaches_kafka(
    settings: Settings, client: TestClient, request_kwargs: dict[str, Any], message: str
) -> None:
    before = mark(settings, GOALS_COMMANDS)
    goal_id = unique("gw-malformed")
    kwargs = dict(request_kwargs)
    if "json" in kwargs:
        kwargs["json"] = {k: v.replace("{id}", goal_id) if isinstance(v, str) else v for k, v in kwargs["json"].items()}
    else:
        kwargs["content"] = kwargs["content"].replace(b"{id}", goal_id.encode())
    headers = AS_ALICE | kwargs.pop("headers", {})

    response = client.post("/goals", headers=headers, **kwargs)

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["message"].startswith("invalid request: ")
    assert message in body["message"]
    assert body["detail"], "each field error is listed"
    published = published_since(settings, GOALS_COMMANDS, before)
    assert [
        p for p in published if goal_id in p.key or p.envelope.payload.model_dump().get("submitted_by") == ALICE
    ] == []


def test_a_malformed_agent_registration_gets_422_and_never_reaches_kafka(
    settings: Settings, client: TestClient
) -> None:
    before = mark(settings, AGENTS_COMMANDS)
    agent_id = unique("gw-bad-agent")

    response = client.post(
        "/agents", headers=AS_ROOT, json={"agent_id": agent_id, "capabilities": [], "capacity": 0, "cost": -1}
    )

    assert response.status_code == 422
    message = response.json()["message"]
    for field in ("body.capabilities", "body.capacity", "body.cost"):
        assert field in message
    assert [p for p in published_since(settings, AGENTS_COMMANDS, before) if p.key == agent_id] == []


# --- queries --------------------------------------------------------------------------------------------------


def test_a_goal_is_listed_and_shown_with_its_task_dag(client: TestClient, projected: Projected) -> None:
    goal_id = projected.done_goal
    listed = find_in_pages(client, "/goals?status=completed", lambda g: g["goal_id"] == goal_id)
    assert (listed["status"], listed["tasks_total"], listed["tasks_succeeded"]) == ("completed", 3, 3)

    response = client.get(f"/goals/{goal_id}", headers=AS_READER)

    assert response.status_code == 200, response.text
    goal = response.json()
    assert (goal["goal_type"], goal["method"], goal["status"]) == ("fix_bug", "fix_bug", "completed")
    tasks = {t["task_id"]: t for t in goal["tasks"]}
    t0, t1, t2 = (f"{goal_id}:t{i}" for i in range(3))
    # Dependencies are asserted on the gated goal: goal_stream's TaskCreated events carry no depends_on while its
    # plan does, and both topics write that column, so here it depends on which topic the projector read last.
    assert sorted(tasks) == [t0, t1, t2]
    assert {t["status"] for t in tasks.values()} == {"succeeded"}
    assert [tasks[t]["tokens_used"] for t in (t0, t1, t2)] == [10, 11, 12]
    assert {t["agent_id"] for t in tasks.values()} == {projected.agent_id}
    assert goal["pending_approvals"] == []


def test_a_gated_goal_shows_its_dag_planned_tasks_and_the_gates_it_waits_for(
    client: TestClient, projected: Projected
) -> None:
    response = client.get(f"/goals/{projected.gated_goal}", headers=AS_READER)

    assert response.status_code == 200, response.text
    goal = response.json()
    statuses = {t["task_id"]: (t["status"], t["requires_approval"]) for t in goal["tasks"]}
    ship, announce = projected.gates
    dag = {t["task_id"]: t["depends_on"] for t in goal["tasks"]}
    assert dag == {projected.build_task: [], ship: [projected.build_task], announce: [projected.build_task]}
    assert statuses == {projected.build_task: ("pending", False), ship: ("planned", True), announce: ("planned", True)}
    assert {a["task_id"] for a in goal["pending_approvals"]} == {ship, announce}
    gates = client.get("/approvals", params={"goal_id": projected.gated_goal, "status": "pending"}, headers=AS_READER)
    assert [(a["task_id"], a["operator"]) for a in gates.json()["items"]] == [(ship, "ship"), (announce, "announce")]


def test_a_goal_timeline_lists_its_events_in_order(client: TestClient, projected: Projected) -> None:
    response = client.get(f"/goals/{projected.done_goal}/timeline", headers=AS_READER)

    assert response.status_code == 200, response.text
    events = response.json()["items"]
    assert sorted(e["event_id"] for e in events) == sorted(str(e.event_id) for e in projected.done_events)
    assert [e["occurred_at"] for e in events] == sorted(e["occurred_at"] for e in events)
    types = [e["type"] for e in events]
    assert types.index("GoalSubmitted") < types.index("GoalPlanned") < types.index("GoalCompleted")
    submitted = next(e for e in events if e["type"] == "GoalSubmitted")
    assert submitted["payload"]["goal_id"] == projected.done_goal
    assert submitted["topic"] == GOALS_EVENTS


def test_tasks_are_listed_by_state(client: TestClient, projected: Projected) -> None:
    succeeded = client.get(
        "/tasks", params={"goal_id": projected.done_goal, "status": "succeeded"}, headers=AS_READER
    ).json()
    planned = client.get("/tasks", params={"goal_id": projected.gated_goal, "status": "planned"}, headers=AS_READER)

    assert sorted(t["task_id"] for t in succeeded["items"]) == [f"{projected.done_goal}:t{i}" for i in range(3)]
    assert sorted(t["task_id"] for t in planned.json()["items"]) == sorted(projected.gates)


def test_agents_show_their_load_and_breaker_state(client: TestClient, projected: Projected) -> None:
    agent = find_in_pages(client, "/agents", lambda a: a["agent_id"] == projected.agent_id)

    assert (agent["capacity"], agent["in_flight"], agent["load"]) == (4, 2, 0.5)
    assert (agent["breaker_state"], agent["status"], agent["capabilities"]) == ("open", "alive", ["code"])


def test_dead_letters_show_why_a_record_was_rejected(client: TestClient, projected: Projected) -> None:
    letter = find_in_pages(
        client,
        "/dead-letters",
        lambda d: d["key"] == projected.broken_key and d["consumer_group"] == projected.projector_group,
    )

    assert letter["source_topic"] == GOALS_EVENTS
    assert letter["value_preview"] == BROKEN_RECORD.decode()
    assert letter["reason"] and letter["error"]


def test_queries_answer_clear_4xx_for_unknown_goals_and_bad_parameters(client: TestClient) -> None:
    goal_id = unique("gw-unknown")

    missing = client.get(f"/goals/{goal_id}", headers=AS_READER)
    bad_limit = client.get("/goals", params={"limit": 0}, headers=AS_READER)
    bad_id = client.get("/goals/has space", headers=AS_READER)

    assert missing.status_code == 404
    assert missing.json()["detail"] == f"goal {goal_id!r} is not in the read models"
    assert bad_limit.status_code == 422
    assert "query.limit: Input should be greater than or equal to 1" in bad_limit.json()["message"]
    assert bad_id.status_code == 422
    assert "path.goal_id: String should match pattern" in bad_id.json()["message"]


# --- probes, metrics, schema ----------------------------------------------------------------------------------


def test_probes_metrics_and_the_openapi_schema(client: TestClient) -> None:
    client.post("/goals", headers=AS_ALICE, json={"goal_id": unique("gw-metrics"), "goal_type": "fix_bug"})

    health = client.get("/healthz")
    ready = client.get("/readyz")
    metrics = client.get("/metrics")
    schema = client.get("/openapi.json")

    assert (health.status_code, health.json()) == (200, {"status": "alive"})
    assert (ready.status_code, ready.json()) == (200, {"ready": True, "checks": {"kafka": "ok", "postgres": "ok"}})
    assert metrics.status_code == 200
    assert 'architect_gateway_commands_total{outcome="acknowledged",type="SubmitGoal"}' in metrics.text
    assert 'architect_gateway_requests_total{method="GET",route="/healthz",status="200"}' in metrics.text
    assert schema.status_code == 200
    document = schema.json()
    assert document["info"]["title"] == "Architect gateway"
    assert {"/goals", "/goals/{goal_id}", "/goals/{goal_id}/timeline", "/agents", "/tasks", "/dead-letters"} <= set(
        document["paths"]
    )
    assert set(document["components"]["securitySchemes"]) == {"APIKeyHeader", "HTTPBearer"}


def test_unreachable_dependencies_make_it_unready_and_commands_fail_with_503(settings: Settings) -> None:
    broken = settings.model_copy(
        update={"kafka_bootstrap_servers": UNREACHABLE_KAFKA, "database_url": UNREACHABLE_POSTGRES}
    )
    app = create_app(broken, gateway_settings(publish_timeout_s=1.0))
    with TestClient(app) as client:
        health = client.get("/healthz")
        ready = client.get("/readyz")
        command = client.post("/goals", headers=AS_ALICE, json={"goal_type": "fix_bug"})
        query = client.get("/goals", headers=AS_READER)

    assert health.status_code == 200
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["kafka"].startswith("Kafka metadata not reachable within 2s")
    assert checks["postgres"].startswith("Postgres not reachable: OperationalError")
    assert command.status_code == 503
    assert command.json()["detail"].startswith("Kafka did not acknowledge the SubmitGoal command within 1s")
    assert command.headers["Retry-After"] == "1"
    assert query.status_code == 503
    assert query.json()["detail"] == "the read models cannot be queried right now (OperationalError)"


# --- the service process --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.timeout(120)
def test_the_service_serves_on_its_configured_port_and_stops_cleanly_on_sigterm(
    settings: Settings, projected: Projected
) -> None:
    port = free_port()
    env = os.environ | {
        "ARCHITECT_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "DATABASE_URL": projected.url,
        "ARCHITECT_GATEWAY_PORT": str(port),
        "ARCHITECT_GATEWAY_API_KEYS": API_KEYS,
        "ARCHITECT_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen([sys.executable, "-m", "services.gateway"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            assert proc.poll() is None, f"the gateway exited with {proc.returncode}"
            try:
                return httpx.get(f"{base}/readyz", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, timeout=60, message="the gateway process to be ready")
        goal = httpx.get(f"{base}/goals/{projected.done_goal}", headers=AS_READER, timeout=10)
        assert (goal.status_code, goal.json()["status"]) == (200, "completed")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
