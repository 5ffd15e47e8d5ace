"""Topic bootstrap creates the catalogue with explicit settings and can run again and again."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import ConfigResource

from shared.bus.bootstrap import admin_client, ensure_topics
from shared.bus.topics import DEAD_LETTERS, STATE_CRDT, TOPICS
from shared.settings import Settings

pytestmark = pytest.mark.integration


def test_every_catalogued_topic_exists_with_its_partitions(settings: Settings) -> None:
    states = {s.name: s for s in ensure_topics(settings)}
    assert set(states) == {t.name for t in TOPICS}
    assert states["architect.goals.events"].partitions == 3
    assert states[DEAD_LETTERS].partitions == 1
    assert all(s.replication == 1 for s in states.values())


def test_running_bootstrap_again_creates_nothing(settings: Settings) -> None:
    ensure_topics(settings)
    assert not any(s.created for s in ensure_topics(settings))


def test_state_topics_are_compacted_and_event_topics_are_not(settings: Settings) -> None:
    admin = admin_client(settings)
    resources = [ConfigResource(ConfigResource.Type.TOPIC, n) for n in (STATE_CRDT, "architect.tasks.events")]
    configs = {r.name: f.result(30) for r, f in admin.describe_configs(resources).items()}
    assert configs[STATE_CRDT]["cleanup.policy"].value == "compact"
    assert configs["architect.tasks.events"]["cleanup.policy"].value == "delete"
