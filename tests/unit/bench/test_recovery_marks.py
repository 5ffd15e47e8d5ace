"""The recovery benchmark's pure parts: which service wrote a record, and when its output resumed."""

from __future__ import annotations

from typing import Any

from bench.recovery import Recovery, report
from bench.recovery_marks import Attribution, OutputTimes, producing_service
from bench.workload import SAGA_STEPS, SAGAS_DIR, request_decision, start_saga
from services.saga_coordinator.definitions import load_definition_directory


def envelope(producer: str, *, caused: bool = True, event_id: str = "e1", **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": "TaskCreated", "producer": producer} | (
        {"causation_id": "c1" if caused else None} | fields
    )


def test_producers_name_their_services() -> None:
    assert producing_service("orchestrator") == "orchestrator"
    assert producing_service("saga-coordinator") == "saga_coordinator"
    assert producing_service("drift-monitor") == "drift_monitor"
    assert producing_service("agent-runtime/noop-3") == "agent_runtime"
    assert producing_service("bench") is None
    assert producing_service("gateway") is None


def test_only_records_caused_by_an_input_are_output() -> None:
    attribution = Attribution()
    assert attribution.service_of(envelope("assigner")) == "assigner"
    assert attribution.service_of(envelope("agent-runtime/noop-1", caused=False)) is None  # heartbeat
    assert attribution.service_of(envelope("bench", caused=False)) is None  # a client's command


def test_a_scheduled_event_is_the_schedulers_output_when_it_fires() -> None:
    attribution = Attribution()
    command = envelope(
        "orchestrator", event_id="s1", type="ScheduleEvent", payload={"event": {"event_id": "inner", "type": "X"}}
    )
    assert attribution.service_of(command) == "orchestrator"  # asking for a timer is the orchestrator's output
    assert attribution.service_of(envelope("orchestrator", event_id="inner")) == "scheduler"
    assert attribution.service_of(envelope("orchestrator", event_id="other")) == "orchestrator"


def test_output_times_find_first_after_and_last_before() -> None:
    times = OutputTimes()
    for at in (5.0, 1.0, 3.0):
        times.add("assigner", at)
    assert times.first_from("assigner", 2.0) == 3.0
    assert times.first_from("assigner", 3.0) == 3.0
    assert times.first_from("assigner", 5.5) is None
    assert times.last_before("assigner", 3.0) == 1.0
    assert times.last_before("assigner", 1.0) is None
    assert times.count_between("assigner", 1.0, 5.0) == 2
    assert times.first_from("scheduler", 0.0) is None


def test_the_bench_saga_has_six_noop_steps_each_with_a_compensation() -> None:
    (definition,) = load_definition_directory(SAGAS_DIR).values()
    assert definition.name == start_saga("s-1").definition
    assert len(definition.steps) == SAGA_STEPS == 6
    assert all(step.action.name == "noop" and step.compensation is not None for step in definition.steps)


def test_decisions_of_the_workload_are_valid_commands() -> None:
    decision = request_decision("d-1")
    assert decision.ballot_via == "commands" and decision.electorate == ["bench-voter"]


def test_report_lists_every_service_with_its_runs_or_why_it_has_none() -> None:
    measured = Recovery("assigner", restart_to_first_s=[1.5, 2.5], gap_s=[4.0, 5.0])
    missing = Recovery("drift_monitor", failures=["no output under the workload before the kill"])
    text = report([measured, missing], None, down_s=2.0, rounds=2)
    assert "| assigner | 2.00 | 2.50 | 4.50 | 1.50 2.50 |" in text
    assert "| drift_monitor | - | - | - | no output under the workload before the kill |" in text
