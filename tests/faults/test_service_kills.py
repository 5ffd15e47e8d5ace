"""SIGKILL each service once while goals and sagas stream through it, restart it, and check every invariant."""

from __future__ import annotations

import time

import pytest

from tests.faults.conftest import FaultRow
from tests.faults.harness import SERVICES, FaultStack
from tests.faults.invariants import check_all
from tests.faults.workload import wait_until

pytestmark = pytest.mark.integration
DOWN_FOR_S = 1.0


@pytest.mark.timeout(240, func_only=True)
@pytest.mark.parametrize("service", SERVICES)
def test_sigkill_mid_stream_then_restart(faults: FaultStack, fault: FaultRow, service: str) -> None:
    fault.fault = f"SIGKILL {service}"
    workload = faults.workload()
    with workload.steady(period_s=1.0):
        # Mid-stream: work of this workload is under way in every service when the kill lands.
        wait_until(
            "the workload to get going",
            lambda: len(workload.goals) >= 2 and workload.unfinished(faults.read_models) != workload.ids(),
            60,
            alive=faults.alive,
        )
        faults.stack.kill(service)
        time.sleep(DOWN_FOR_S)
        faults.stack.restart(service)
    fault.detail = check_all(faults, workload)
