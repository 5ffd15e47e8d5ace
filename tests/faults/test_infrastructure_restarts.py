"""The broker and the database go away under a steady workload and come back: the Kafka broker is stopped and
started again (same port, same data directory), and Postgres is stopped and started again under the projector,
which must resume and catch up. Afterwards every invariant holds."""

from __future__ import annotations

import time

import pytest

from tests.faults.conftest import FaultRow
from tests.faults.harness import FaultStack
from tests.faults.invariants import check_all
from tests.faults.workload import Workload, wait_until

pytestmark = pytest.mark.integration
DOWN_FOR_S = 3.0


def get_going(faults: FaultStack, workload: Workload) -> None:
    wait_until(
        "the workload to get going",
        lambda: len(workload.goals) >= 3 and workload.unfinished(faults.read_models) != workload.ids(),
        60,
        alive=faults.alive,
    )


@pytest.mark.timeout(360, func_only=True)
def test_kafka_broker_stopped_and_restarted_mid_stream(faults: FaultStack, fault: FaultRow) -> None:
    """Transactional services continue on a new Kafka client when theirs lost the broker or hangs
    (librdkafka#5456/#5511, see ``shared.bus.transactional_client``); one that still exits (after 3 hung clients)
    is started again, as its supervisor would, and named. The invariants must hold all the same."""
    fault.fault = "Kafka broker stop + restart"
    workload = faults.workload()
    faults.supervised, faults.restarted = True, []
    try:
        with workload.steady(period_s=0.7):
            get_going(faults, workload)
            faults.kafka.stop()
            time.sleep(DOWN_FOR_S)
            faults.kafka.start()  # the same name: same port and data directory
            time.sleep(2.0)
        fault.detail = check_all(faults, workload, finish_timeout_s=240)
    finally:
        faults.supervised = False
    if faults.restarted:
        fault.detail += f"; restarted after exiting: {', '.join(faults.restarted)}"


@pytest.mark.timeout(240, func_only=True)
def test_postgres_stopped_and_restarted_under_the_projector(faults: FaultStack, fault: FaultRow) -> None:
    fault.fault = "Postgres stop + restart under the projector"
    workload = faults.workload()
    with workload.steady(period_s=0.7):
        get_going(faults, workload)
        faults.restart_postgres(DOWN_FOR_S)
        time.sleep(2.0)
    fault.detail = check_all(faults, workload)
