"""One key, one partition, whichever client writes it; and faust tables sized to the topics they follow.

Services publish with confluent-kafka, whose default partitioner (librdkafka's ``consistent_random``) puts a
non-empty key in ``crc32(key) % partitions``; aiokafka, under faust, would hash with murmur2 and put the same
goal's events in another partition. Faust apps therefore use ``librdkafka_partitioner``, so every event of a
stream lands in one partition, in order, whoever produced it, and a faust table keyed by that stream writes
each key to one changelog partition.

A faust table's changelog must have as many partitions as the topics its agent reads. Those topics may hold
more partitions than this process's settings say (created by another deployment, or grown deliberately), so
``table_partitions`` reads the real count from the broker and refuses to start, with the reason, when the
table's existing changelog disagrees.
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Mapping

from confluent_kafka.admin import AdminClient

from shared.bus.client_config import kafka_config
from shared.bus.topics import TableSpec, changelog_topic
from shared.settings import Settings


def partition_for(key: bytes, partitions: int) -> int:
    """The partition librdkafka's default partitioner picks for a non-empty key."""
    if partitions < 1:
        raise ValueError(f"partitions must be positive, got {partitions}")
    return zlib.crc32(key) % partitions


def librdkafka_partitioner(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """A faust ``producer_partitioner`` that agrees with confluent-kafka: crc32 of the key; no key, any
    available partition."""
    if not key:
        return random.choice(available or all_partitions)
    return all_partitions[partition_for(key, len(all_partitions))]


class CoPartitioningError(RuntimeError):
    """A faust table cannot follow its topics: they differ in partition count or a topic is missing."""


def changelog_partitions(table: TableSpec, partitions: Mapping[str, int]) -> int:
    """How many partitions ``table``'s changelog must have, given the partition count of each existing topic:
    that of its sources, which must all exist and agree."""
    missing = [name for name in table.sources if not partitions.get(name)]
    if missing:
        raise CoPartitioningError(
            f"table '{table.table}' of {table.app_id} reads {', '.join(missing)}, which do not exist"
        )
    return _common_count(table.app_id, table.table, {name: partitions[name] for name in table.sources})


def _common_count(app_id: str, table: str, counts: Mapping[str, int]) -> int:
    """The partition count the topics a table reads (``counts``: topic -> partitions) share."""
    if len(set(counts.values())) != 1:
        raise CoPartitioningError(
            f"table '{table}' of {app_id} reads topics with different partition counts {dict(counts)}: "
            "a table can only follow co-partitioned topics"
        )
    return next(iter(counts.values()))


def table_partitions(
    settings: Settings, app_id: str, table: str, sources: tuple[str, ...], *, wait_s: float = 30.0
) -> int:
    """How many partitions ``table`` (of faust app ``app_id``), fed by ``sources``, must have: the sources'
    real partition count. Waits up to ``wait_s`` for the sources to exist (the topic job may still be running)."""
    admin = AdminClient(kafka_config(settings))
    deadline = time.monotonic() + wait_s
    while True:
        topics = admin.list_topics(timeout=max(1.0, wait_s)).topics
        missing = [name for name in sources if name not in topics or not topics[name].partitions]
        if not missing:
            break
        if time.monotonic() > deadline:
            raise CoPartitioningError(
                f"table '{table}' of {app_id} reads {', '.join(missing)}, which do not exist: "
                "run `architect topics create` first"
            )
        time.sleep(0.5)
    partitions = _common_count(app_id, table, {name: len(topics[name].partitions) for name in sources})
    changelog = changelog_topic(app_id, table)
    if changelog in topics and len(topics[changelog].partitions) != partitions:
        raise CoPartitioningError(
            f"changelog {changelog} has {len(topics[changelog].partitions)} partitions but the topics table "
            f"'{table}' follows have {partitions} {sorted(sources)}: they were grown after the table was made, "
            "which moves keys between partitions. Architect's topics keep their partition count for life "
            "(README, 'Partitions'); restore the count or start from fresh topics"
        )
    return partitions
