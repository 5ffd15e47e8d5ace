"""The console's operations through the gateway against the real broker: a goal's stream replayed from Kafka, and
a dead letter re-driven to its source topic (admin only), read back from the topics.

The broker may be shared with concurrent sessions: ids, keys and the re-drive's source topic are unique to this
module, and the dead letter is found by its key rather than by the topic's end offset.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka.admin import NewTopic
from fastapi.testclient import TestClient
from pydantic import SecretStr

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from shared.bus.bootstrap import admin_client
from shared.bus.dead_letters import REDRIVE_COUNT, DeadLetter, dead_letter, redriven_offset
from shared.bus.producer import EventProducer
from shared.bus.reader import read_to_end
from shared.bus.record import Record
from shared.bus.topics import DEAD_LETTERS
from shared.events.catalogue.goals import GoalCompleted, GoalSubmitted, SubmitGoal
from shared.events.codec import new_event
from shared.events.envelope import Envelope
from shared.settings import Settings

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
AS_ADMIN = {"X-API-Key": f"ops-{RUN}"}
AS_SUBMITTER = {"Authorization": f"Bearer dev-{RUN}"}
AS_READER = {"X-API-Key": f"reader-{RUN}"}
API_KEYS = f"ops-{RUN}=ops-{RUN}:admin,dev-{RUN}=dev-{RUN}:submit+approve,reader-{RUN}=reader-{RUN}"
SOURCE_TOPIC = f"architect.test.redrive-{RUN}"


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    """The app with its lifespan (a real producer); these operations read Kafka, not the read models."""
    gateway = GatewaySettings(api_keys=SecretStr(API_KEYS), allow_dev_key=False, publish_timeout_s=10)
    with TestClient(create_app(settings, gateway)) as client:
        yield client


def caused_chain(goal_id: str) -> list[Envelope[Any]]:
    """SubmitGoal -> GoalSubmitted -> GoalCompleted, each caused by the one before."""
    submit = new_event(
        SubmitGoal(goal_id=goal_id, goal_type="fix_bug"), producer="t", stream_id=goal_id, correlation_id=goal_id
    )
    submitted = new_event(
        GoalSubmitted(goal_id=goal_id, goal_type="fix_bug"),
        producer="t",
        stream_id=goal_id,
        correlation_id=goal_id,
        causation_id=submit.event_id,
    )
    completed = new_event(
        GoalCompleted(goal_id=goal_id),
        producer="t",
        stream_id=goal_id,
        correlation_id=goal_id,
        causation_id=submitted.event_id,
    )
    return [submit, submitted, completed]


@pytest.mark.timeout(120)
def test_a_goals_stream_is_replayed_from_kafka_in_causal_order(settings: Settings, client: TestClient) -> None:
    goal_id = f"replayed-{RUN}"
    chain = caused_chain(goal_id)
    producer = EventProducer(settings, client_id="gateway-ops-test")
    try:
        for envelope in chain:
            producer.publish(envelope)
        producer.flush()
    finally:
        producer.close()

    response = client.get(f"/goals/{goal_id}/replay", headers=AS_READER)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["source"] == "kafka"
    assert [(e["event_id"], e["type"], e["depth"]) for e in body["events"]] == [
        (str(e.event_id), e.type, depth) for depth, e in enumerate(chain)
    ]
    assert body["events"][0]["payload"]["goal_type"] == "fix_bug"

    missing = client.get(f"/goals/never-{RUN}/replay", headers=AS_READER)
    assert missing.status_code == 404
    assert f"never-{RUN}" in missing.json()["detail"]
    assert client.get(f"/goals/{goal_id}/replay").status_code == 401


def find_letter(settings: Settings, key: bytes) -> DeadLetter | None:
    records = read_to_end(settings, [DEAD_LETTERS])
    letters = [DeadLetter.from_record(r) for r in records if r.key == key and redriven_offset(r) is None]
    return letters[-1] if letters else None


def source_records(settings: Settings) -> list[Record]:
    return list(read_to_end(settings, [SOURCE_TOPIC]))


@pytest.mark.timeout(120)
def test_an_admin_redrives_a_dead_letter_to_its_source_topic(settings: Settings, client: TestClient) -> None:
    admin = admin_client(settings)
    for future in admin.create_topics([NewTopic(SOURCE_TOPIC, num_partitions=1, replication_factor=1)]).values():
        future.result(30)
    key = f"letter-{RUN}".encode()
    original = Record(SOURCE_TOPIC, 0, 7, key, b'{"not": "an envelope"}', [("origin", b"ops-test")])
    producer = EventProducer(settings, client_id="gateway-ops-test")
    try:
        dead_letter(producer, original, reason="handler_error", error="store down", group=f"ops-test-{RUN}")
        producer.flush()
    finally:
        producer.close()
    letter = find_letter(settings, key)  # the flush confirmed it, so a read to the end finds it
    assert letter is not None
    path = f"/dead-letters/{letter.offset}/redrive"

    refused = client.post(path, headers=AS_SUBMITTER)
    assert refused.status_code == 403
    assert refused.json()["detail"] == f"the API key of 'dev-{RUN}' lacks the 'admin' scope"
    assert client.post(path).status_code == 401
    assert source_records(settings) == [], "a refused re-drive published something"

    done = client.post(path, headers=AS_ADMIN)
    assert done.status_code == 202, done.text
    assert done.json() == {
        "dlq_offset": letter.offset,
        "reason": "handler_error",
        "source_topic": SOURCE_TOPIC,
        "redrive_count": 1,
    }
    [back] = source_records(settings)
    assert (back.key, back.value) == (original.key, original.value)
    assert back.header("origin") == "ops-test"
    assert back.header(REDRIVE_COUNT) == "1"
    # A marker on the dead-letter topic names the letter (the projector flags it re-driven); it is no letter.
    markers = [r for r in read_to_end(settings, [DEAD_LETTERS]) if redriven_offset(r) == letter.offset]
    assert [(m.key, m.value) for m in markers] == [(key, None)]
    marker_path = f"/dead-letters/{markers[0].offset}/redrive"
    assert client.post(marker_path, headers=AS_ADMIN).status_code == 404

    beyond = client.post(f"/dead-letters/{10**12}/redrive", headers=AS_ADMIN)
    assert beyond.status_code == 404
    assert beyond.json()["detail"] == f"no dead letter at offset {10**12}"
