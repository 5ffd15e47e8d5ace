"""In the 3-broker mode (replication 3, min in-sync replicas 2) one broker is killed for good while goals and
sagas stream through: nothing is lost or done twice and every invariant holds on the two brokers left.

A lean test with a stack of its own on a cluster of its own (a few goals and sagas). Its module sorts first in
the package, so it runs and stops its stack before the package's single-broker stack starts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from shared.bus.bootstrap import ensure_topics
from shared.infra.kafka_broker import LocalKafka
from shared.settings import Settings
from tests.faults.conftest import POSTGRES_NAME, FaultRow
from tests.faults.harness import FaultStack, start_fault_stack, stop_fault_stack
from tests.faults.invariants import check_all
from tests.faults.workload import wait_until
from tests.infra_fixtures import TEST_KAFKA_NAME, TEST_KAFKA_PORT
from tests.ports import FAULT_CLUSTER_OFFSET

pytestmark = pytest.mark.integration
CLUSTER_PORT = TEST_KAFKA_PORT + FAULT_CLUSTER_OFFSET  # see tests/ports.py
KILLED_NODE = 1


@pytest.fixture(scope="module")
def cluster_stack(fault_postgres: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    cluster = LocalKafka(f"{TEST_KAFKA_NAME}-cluster", CLUSTER_PORT, nodes=3, heap="384m")
    try:
        bootstrap = cluster.start(clean=True)
    except Exception as error:
        pytest.fail(f"the 3-broker cluster could not start ({type(error).__name__}): {error}", pytrace=False)
    settings = Settings(kafka_bootstrap_servers=bootstrap, topic_partitions=3, topic_replication_factor=3)
    ensure_topics(settings)
    faults = start_fault_stack(
        settings,
        cluster,
        POSTGRES_NAME,
        tmp_path_factory.mktemp("faults-cluster"),
        extra_env={"ARCHITECT_TOPIC_REPLICATION_FACTOR": "3", "ARCHITECT_TOPIC_PARTITIONS": "3"},
    )
    try:
        yield faults
    finally:
        codes = stop_fault_stack(faults)
        print(f"\ncluster fault stack stopped (exit codes {codes}); logs in {faults.stack.log_dir}")
        cluster.stop()  # always: it starts clean each time, and would hold its ports for later tests
        cluster.clean()


@pytest.mark.timeout(300, func_only=True)
def test_one_broker_of_three_killed_for_good_mid_stream(cluster_stack: FaultStack, fault: FaultRow) -> None:
    """A transactional service whose coordinator was on the killed node continues on a new client when its call
    hangs, or exits after 3 hung clients in a row (librdkafka#5456/#5511, see ``shared.bus.transactional_client``)
    and is started again, as its supervisor would; the invariants must hold all the same."""
    faults = cluster_stack
    fault.fault = f"3-broker cluster: node {KILLED_NODE} SIGKILLed for good"
    workload = faults.workload()
    faults.supervised, faults.restarted = True, []
    with workload.steady(period_s=1.5):
        wait_until(
            "the workload to get going",
            lambda: len(workload.goals) >= 2 and workload.unfinished(faults.read_models) != workload.ids(),
            60,
            alive=faults.alive,
        )
        faults.kafka.kill_node(KILLED_NODE)
        time.sleep(4.0)
    assert not faults.kafka.status()[KILLED_NODE - 1].running
    fault.detail = check_all(faults, workload, finish_timeout_s=200)
    if faults.restarted:
        fault.detail += f"; restarted after exiting: {', '.join(faults.restarted)}"
