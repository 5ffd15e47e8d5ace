"""The local Kafka tooling runs real brokers: one node, and a 3-node cluster that survives losing a node."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from shared.infra.kafka_broker import KafkaStartError, LocalKafka
from tests.ports import LOCAL_KAFKA_CLUSTER, LOCAL_KAFKA_SINGLE, LOCAL_KAFKA_STOP

pytestmark = pytest.mark.integration

SINGLE_PORT = LOCAL_KAFKA_SINGLE
STOP_PORT = LOCAL_KAFKA_STOP
CLUSTER_PORT = LOCAL_KAFKA_CLUSTER
QUIET = {"log_level": 0}  # refused connections to a killed node are expected here


@pytest.fixture(scope="module")
def single_broker() -> Iterator[LocalKafka]:
    kafka = LocalKafka("itest-single", SINGLE_PORT)
    kafka.start(clean=True)
    yield kafka
    kafka.stop()


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalKafka]:
    kafka = LocalKafka("itest-cluster", CLUSTER_PORT, nodes=3)
    kafka.start(clean=True, timeout=150)
    yield kafka
    kafka.stop()


@pytest.mark.timeout(120)
def test_started_broker_answers_metadata_requests(single_broker: LocalKafka) -> None:
    metadata = AdminClient({"bootstrap.servers": single_broker.bootstrap_servers}).list_topics(timeout=10)

    assert set(metadata.brokers) == {1}
    assert metadata.brokers[1].port == SINGLE_PORT


@pytest.mark.timeout(120)
def test_a_produced_message_is_consumed_back(single_broker: LocalKafka) -> None:
    topic = _create_topic(single_broker.bootstrap_servers, replication_factor=1)

    _produce(single_broker.bootstrap_servers, topic, [b"hello"])

    assert _consume(single_broker.bootstrap_servers, topic, count=1) == [b"hello"]


@pytest.mark.timeout(120)
def test_start_reuses_a_healthy_broker_with_the_same_name(single_broker: LocalKafka) -> None:
    pids_before = [entry.pid for entry in single_broker.status()]

    again = LocalKafka("itest-single", SINGLE_PORT).start(timeout=20)

    assert again == single_broker.bootstrap_servers
    assert [entry.pid for entry in single_broker.status()] == pids_before


@pytest.mark.timeout(120)
def test_stop_leaves_no_process_and_frees_the_ports() -> None:
    kafka = LocalKafka("itest-stop", STOP_PORT)
    kafka.start(clean=True)
    (pid,) = [entry.pid for entry in kafka.status()]
    assert pid is not None

    kafka.stop()

    assert _eventually(lambda: not _process_exists(pid), timeout=5)  # a killed child needs a moment to be reaped
    assert not kafka.is_running()
    assert not kafka.node(1).pid_file.exists()
    assert not _accepts_connections("127.0.0.1", STOP_PORT)
    assert not _accepts_connections("127.0.0.1", STOP_PORT + 1)


@pytest.mark.timeout(60)
def test_start_fails_fast_and_names_the_port_when_it_is_taken() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        kafka = LocalKafka("itest-port-taken", port)

        with pytest.raises(KafkaStartError, match=f"127.0.0.1:{port}"):
            kafka.start(clean=True, timeout=10)

    assert kafka.status()[0].pid is None


@pytest.mark.timeout(240)
def test_cluster_replicates_new_topics_on_all_three_nodes(cluster: LocalKafka) -> None:
    topic = _create_topic(cluster.bootstrap_servers, replication_factor=3)

    partitions = _partitions(cluster.bootstrap_servers, topic)

    assert all(sorted(replicas) == [1, 2, 3] for replicas, _ in partitions)
    assert all(sorted(isr) == [1, 2, 3] for _, isr in partitions)


@pytest.mark.timeout(240)
def test_cluster_accepts_acks_all_writes_and_reads_after_a_node_is_killed(cluster: LocalKafka) -> None:
    topic = _create_topic(cluster.bootstrap_servers, replication_factor=3)
    cluster.kill_node(3)
    try:
        messages = [f"after-kill-{index}".encode() for index in range(20)]

        _produce(cluster.bootstrap_servers, topic, messages)

        assert sorted(_consume(cluster.bootstrap_servers, topic, count=len(messages))) == sorted(messages)
    finally:
        cluster.start_node(3)


@pytest.mark.timeout(240)
def test_killed_node_rejoins_the_cluster_after_restart(cluster: LocalKafka) -> None:
    topic = _create_topic(cluster.bootstrap_servers, replication_factor=3)
    cluster.kill_node(1)
    _produce(cluster.bootstrap_servers, topic, [b"while-node-1-was-down"])

    cluster.start_node(1)

    metadata = AdminClient({"bootstrap.servers": cluster.bootstrap_servers, **QUIET}).list_topics(timeout=10)
    assert set(metadata.brokers) == {1, 2, 3}
    assert _eventually(
        lambda: all(sorted(isr) == [1, 2, 3] for _, isr in _partitions(cluster.bootstrap_servers, topic))
    )


# -- helpers -----------------------------------------------------------------------------------------------


def _create_topic(bootstrap: str, *, replication_factor: int, partitions: int = 3) -> str:
    topic = f"itest-{uuid.uuid4().hex[:12]}"
    admin = AdminClient({"bootstrap.servers": bootstrap, **QUIET})
    futures = admin.create_topics([NewTopic(topic, partitions, replication_factor)], operation_timeout=30)
    futures[topic].result(timeout=60)
    return topic


def _partitions(bootstrap: str, topic: str) -> list[tuple[list[int], list[int]]]:
    metadata = AdminClient({"bootstrap.servers": bootstrap, **QUIET}).list_topics(topic, timeout=10)
    return [(list(p.replicas), list(p.isrs)) for p in metadata.topics[topic].partitions.values()]


def _fully_replicated(bootstrap: str, topic: str) -> bool:
    return all(sorted(isr) == [1, 2, 3] for _, isr in _partitions(bootstrap, topic))


def _produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    failures: list[str] = []
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "message.timeout.ms": 60000,
            **QUIET,
        }
    )
    for value in values:
        producer.produce(topic, value, on_delivery=lambda error, _msg: failures.append(str(error)) if error else None)
    assert producer.flush(90) == 0, "messages still in flight"
    assert failures == []


def _consume(bootstrap: str, topic: str, *, count: int, timeout: float = 60.0) -> list[bytes]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"itest-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            **QUIET,
        }
    )
    consumer.subscribe([topic])
    received: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while len(received) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                received.append(message.value())
    finally:
        consumer.close()
    return received


def _eventually(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return condition()


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _accepts_connections(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, port)) == 0
