"""Idempotent topic creation from the catalogue (and the faust tables' changelogs): run it any number of times,
it converges."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewPartitions, NewTopic

from shared.bus.client_config import kafka_config
from shared.bus.partitioning import changelog_partitions
from shared.bus.topics import TABLES, TOPICS, TableSpec, TopicSpec
from shared.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicState:
    name: str
    partitions: int
    replication: int
    cleanup_policy: str
    created: bool
    wanted_partitions: int
    """The catalogue's count; above ``partitions`` when an existing topic was kept smaller."""


def admin_client(settings: Settings) -> AdminClient:
    return AdminClient(kafka_config(settings))


def ensure_topics(
    settings: Settings,
    specs: tuple[TopicSpec, ...] = TOPICS,
    *,
    tables: tuple[TableSpec, ...] = TABLES,
    timeout: float = 30.0,
    grow_partitions: bool = False,
) -> list[TopicState]:
    """Create missing topics with explicit partitions, replication and cleanup policy; report every topic.

    Existing topics keep their partition count unless ``grow_partitions``: growing moves keys to other
    partitions, which breaks per-stream order across the change and the faust tables that follow the topic
    (their changelogs keep the old count). Their configs are brought to the catalogue's values.

    Then the changelogs of ``tables`` (faust's, the services' by default), compacted, with their sources' real
    partition count: a faust app finds them in its consumer's first metadata instead of creating them at
    start-up. A changelog is never grown (its table would lose keys that move); a service refuses to start when
    its table's changelog no longer matches the sources (``partitioning.table_partitions``).
    """
    admin = admin_client(settings)
    states, metadata = _ensure(admin, settings, specs, timeout, grow_partitions)
    if tables:
        counts = {name: len(topic.partitions) for name, topic in metadata.items()}
        changelogs = tuple(table.changelog_spec(changelog_partitions(table, counts)) for table in tables)
        states += _ensure(admin, settings, changelogs, timeout, grow_partitions=False)[0]
    return states


def _ensure(
    admin: AdminClient, settings: Settings, specs: tuple[TopicSpec, ...], timeout: float, grow_partitions: bool
) -> tuple[list[TopicState], dict]:
    existing = admin.list_topics(timeout=timeout).topics
    wanted = {spec.name: spec for spec in specs}
    to_create = []
    for spec in specs:
        if spec.name not in existing:
            replication = spec.replication or settings.topic_replication_factor
            to_create.append(
                NewTopic(
                    spec.name,
                    num_partitions=spec.partitions or settings.topic_partitions,
                    replication_factor=replication,
                    config=spec.config(replication),
                )
            )
    created = set()
    if to_create:
        for name, future in admin.create_topics(to_create, operation_timeout=timeout, request_timeout=timeout).items():
            try:
                future.result(timeout)
                created.add(name)
                log.info("created topic %s", name)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
    metadata = admin.list_topics(timeout=timeout).topics
    _align_existing(admin, settings, wanted, metadata, created, timeout, grow_partitions)
    metadata = _visible(admin, [spec.name for spec in specs], timeout)
    states = []
    for spec in specs:
        topic = metadata[spec.name]
        first = next(iter(topic.partitions.values()), None)
        states.append(
            TopicState(
                name=spec.name,
                partitions=len(topic.partitions),
                replication=len(first.replicas) if first else 0,
                cleanup_policy=spec.cleanup_policy,
                created=spec.name in created,
                wanted_partitions=spec.partitions or settings.topic_partitions,
            )
        )
    return states, metadata


def _visible(admin: AdminClient, names: list[str], timeout: float) -> dict:
    """Topic metadata once every topic in ``names`` shows in it: a just-created topic can take a moment to
    appear in the metadata a broker serves (most visibly on a freshly started one)."""
    deadline = time.monotonic() + timeout
    while True:
        metadata = admin.list_topics(timeout=timeout).topics
        missing = [name for name in names if name not in metadata or not metadata[name].partitions]
        if not missing:
            return metadata
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics not visible in the broker's metadata after {timeout:.0f}s: {missing}")
        time.sleep(0.2)


def _align_existing(
    admin: AdminClient,
    settings: Settings,
    wanted: dict[str, TopicSpec],
    metadata: dict,
    created: set[str],
    timeout: float,
    grow_partitions: bool,
) -> None:
    grow = []
    configs = []
    for name, spec in wanted.items():
        if name in created or name not in metadata:
            continue
        target = spec.partitions or settings.topic_partitions
        if len(metadata[name].partitions) < target:
            if grow_partitions:
                log.warning("growing %s from %d to %d partitions", name, len(metadata[name].partitions), target)
                grow.append(NewPartitions(name, target))
            else:
                log.warning(
                    "%s keeps its %d partitions (the catalogue asks for %d): growing needs --grow-partitions",
                    name,
                    len(metadata[name].partitions),
                    target,
                )
        replication = len(next(iter(metadata[name].partitions.values())).replicas)
        entries = [
            ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)
            for key, value in spec.config(replication).items()
        ]
        configs.append(ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=entries))
    if grow:
        for future in admin.create_partitions(grow, request_timeout=timeout).values():
            future.result(timeout)
    if configs:
        for future in admin.incremental_alter_configs(configs, request_timeout=timeout).values():
            future.result(timeout)
