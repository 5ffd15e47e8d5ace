"""Topic bootstrap creates the catalogue and the faust tables' changelogs with explicit settings and can run
again and again; faust tables follow the real partition count of their topics, and every client puts a key in
the same partition."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import ConfigResource

from shared.bus.bootstrap import admin_client, ensure_topics
from shared.bus.client_config import kafka_config
from shared.bus.partitioning import CoPartitioningError, changelog_topic, librdkafka_partitioner, table_partitions
from shared.bus.producer import EventProducer
from shared.bus.topics import DEAD_LETTERS, STATE_CRDT, TABLES, TOPICS, TableSpec, TopicSpec
from shared.settings import Settings
from tests.conftest import unique
from tests.integration.kafka_helpers import create_topic

pytestmark = pytest.mark.integration


def test_every_catalogued_topic_exists_with_its_partitions(settings: Settings) -> None:
    states = {s.name: s for s in ensure_topics(settings)}
    assert set(states) == {t.name for t in TOPICS} | {t.changelog for t in TABLES}
    assert states["architect.goals.events"].partitions == 3
    for table in TABLES:  # the catalogue's topics all take the configured count here
        assert states[table.changelog].partitions == 3 and states[table.changelog].cleanup_policy == "compact"
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


def test_an_existing_topic_keeps_its_partitions_unless_growing_is_asked_for(settings: Settings) -> None:
    spec = TopicSpec(unique("bootstrap-grow"), keyed_by="test key")
    ensure_topics(settings, (spec,))
    larger = settings.model_copy(update={"topic_partitions": settings.topic_partitions + 2})

    kept = ensure_topics(larger, (spec,))[0]
    assert (kept.partitions, kept.wanted_partitions) == (settings.topic_partitions, settings.topic_partitions + 2)

    grown = ensure_topics(larger, (spec,), grow_partitions=True)[0]
    assert grown.partitions == grown.wanted_partitions == settings.topic_partitions + 2


def test_a_table_s_changelog_is_made_compacted_with_its_sources_partitions_and_its_configs(
    settings: Settings,
) -> None:
    first, second = create_topic(settings, unique("follow-a"), 4), create_topic(settings, unique("follow-b"), 4)
    table = TableSpec(unique("app"), "state", (first, second), keyed_by="k", extra_config={"segment.ms": "60000"})
    (state,) = ensure_topics(settings, (), tables=(table,))
    assert (state.name, state.partitions, state.created) == (table.changelog, 4, True)
    resource = ConfigResource(ConfigResource.Type.TOPIC, table.changelog)
    admin = admin_client(settings)  # must outlive the future
    config = admin.describe_configs([resource])[resource].result(30)
    assert (config["cleanup.policy"].value, config["segment.ms"].value) == ("compact", "60000")
    assert table_partitions(settings, table.app_id, "state", (first, second)) == 4, "the service takes it as is"
    assert not ensure_topics(settings, (), tables=(table,))[0].created


def test_a_table_over_topics_of_different_sizes_gets_no_changelog(settings: Settings) -> None:
    first, second = create_topic(settings, unique("follow-a"), 2), create_topic(settings, unique("follow-b"), 3)
    table = TableSpec(unique("app"), "state", (first, second), keyed_by="k")
    with pytest.raises(CoPartitioningError, match="different partition counts"):
        ensure_topics(settings, (), tables=(table,))
    assert table.changelog not in admin_client(settings).list_topics(timeout=10).topics


def test_a_table_takes_the_real_partition_count_of_the_topics_it_follows(settings: Settings) -> None:
    first, second = create_topic(settings, unique("follow-a"), 4), create_topic(settings, unique("follow-b"), 4)
    assert table_partitions(settings, unique("app"), "state", (first, second)) == 4


def test_a_table_over_topics_of_different_sizes_is_refused(settings: Settings) -> None:
    first, second = create_topic(settings, unique("follow-a"), 2), create_topic(settings, unique("follow-b"), 3)
    with pytest.raises(CoPartitioningError, match="different partition counts"):
        table_partitions(settings, unique("app"), "state", (first, second))


def test_a_table_over_a_missing_topic_is_refused_with_what_to_run(settings: Settings) -> None:
    with pytest.raises(CoPartitioningError, match="architect topics create"):
        table_partitions(settings, unique("app"), "state", (unique("absent"),), wait_s=1.0)


def test_a_table_whose_changelog_no_longer_matches_its_topics_is_refused(settings: Settings) -> None:
    app_id, source = unique("app"), create_topic(settings, unique("follow"), 3)
    create_topic(settings, changelog_topic(app_id, "state"), 2)
    with pytest.raises(CoPartitioningError, match=r"changelog .* has 2 partitions but .* have 3"):
        table_partitions(settings, app_id, "state", (source,))


def test_keys_land_where_confluent_kafka_puts_them(settings: Settings, producer: EventProducer) -> None:
    topic = create_topic(settings, unique("placement"), 5)
    consumer = Consumer(kafka_config(settings) | {"group.id": unique("placement"), "auto.offset.reset": "earliest"})
    raw = Producer(kafka_config(settings))
    keys = [f"goal-{i}".encode() for i in range(40)]
    for key in keys:
        raw.produce(topic, key=key, value=b"{}")
    assert raw.flush(30) == 0
    consumer.subscribe([topic])
    placed: dict[bytes, int] = {}
    deadline = time.monotonic() + 30
    while len(placed) < len(keys) and time.monotonic() < deadline:
        message = consumer.poll(1.0)
        if message is not None and message.error() is None:
            placed[message.key()] = message.partition()
    consumer.close()
    assert placed == {key: librdkafka_partitioner(key, list(range(5)), []) for key in keys}
