"""Saga read models from the coordinator's own events: run and step rows, attempts and compensation results."""

from __future__ import annotations

import json
from typing import Any

from services.projector.projections import TABLES, changes_for, fold, row_values
from services.saga_coordinator.coordinator import Delayed, decide
from services.saga_coordinator.definitions import parse_definition
from shared.events.catalogue.sagas import ReportSagaActionResult, StartSaga
from shared.events.catalogue.tasks import TaskAbandoned, TaskSucceeded
from shared.events.codec import new_event
from shared.events.envelope import Envelope, Payload

SAGA = "s1"
DEFINITIONS = {
    "trip": parse_definition(
        {
            "name": "trip",
            "steps": [
                {"name": "flight", "action": {"operator": "book_flight"}, "compensation": {"operator": "cancel"}},
                {"name": "hotel", "action": {"command": "BookHotel"}, "compensation": {"command": "FreeRoom"}},
                {"name": "car", "action": {"operator": "rent_car"}, "retry": {"max_attempts": 1}},
            ],
        }
    )
}


def command(payload: Payload) -> Envelope[Any]:
    return new_event(payload, producer="test", stream_id=SAGA, correlation_id=SAGA)


def run(inputs: list[Envelope[Any]]) -> list[Envelope[Any]]:
    """The saga events the coordinator emits for ``inputs``, in order."""
    record, emitted, now = None, [], 100.0
    for event in inputs:
        now += 1
        decision = decide(record, event, now, DEFINITIONS)
        record = decision.record
        emitted += [out for out in decision.emit if not isinstance(out, Delayed) and out.type != "TaskCreated"]
    return emitted


def rows(events: list[Envelope[Any]]) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    return fold(change for event in events for change in changes_for(event))


def report(phase: str, step: int, outcome: str = "succeeded") -> Envelope[Any]:
    return command(ReportSagaActionResult(saga_id=SAGA, phase=phase, step_index=step, attempt=1, outcome=outcome))


def test_a_compensated_saga_shows_every_step_and_what_undid_it() -> None:
    events = run(
        [
            command(StartSaga(saga_id=SAGA, definition="trip", params={"to": "Oslo"})),
            command(TaskSucceeded(task_id=f"{SAGA}/flight/a1", goal_id=SAGA, agent_id="a", output={"seat": "3A"})),
            report("step", 1),
            command(TaskAbandoned(task_id=f"{SAGA}/car/a1", goal_id=SAGA, attempt=1, error_class="crash", reason="x")),
            report("compensation", 1),
            command(TaskSucceeded(task_id=f"{SAGA}/flight/c1", goal_id=SAGA, agent_id="a")),
        ]
    )
    folded = rows(events)
    saga = folded["sagas"][(SAGA,)]
    assert saga["status"] == "compensated"
    assert saga["failed_step"] == "car" and saga["compensated_steps"] == ["hotel", "flight"]
    assert saga["steps_total"] == 3 and saga["params"] == {"to": "Oslo"}
    steps = folded["saga_steps"]
    assert steps[(SAGA, 0)].items() >= {"status": "succeeded", "attempts": 1}.items()
    assert steps[(SAGA, 0)]["output"] == {"seat": "3A"}
    assert steps[(SAGA, 0)]["compensation_status"] == "compensated"
    assert steps[(SAGA, 0)]["compensation_task_id"] == f"{SAGA}/flight/c1"
    assert steps[(SAGA, 1)]["kind"] == "command" and steps[(SAGA, 1)]["compensation_status"] == "compensated"
    assert steps[(SAGA, 2)]["status"] == "failed" and "crash" in steps[(SAGA, 2)]["last_error"]
    assert "compensation_status" not in steps[(SAGA, 2)]


def test_a_completed_saga_and_its_rows_are_writable() -> None:
    events = run(
        [
            command(StartSaga(saga_id=SAGA, definition="trip")),
            command(TaskSucceeded(task_id=f"{SAGA}/flight/a1", goal_id=SAGA, agent_id="a")),
            report("step", 1),
            command(TaskSucceeded(task_id=f"{SAGA}/car/a1", goal_id=SAGA, agent_id="a")),
        ]
    )
    folded = rows(events)
    assert folded["sagas"][(SAGA,)]["status"] == "completed"
    assert {k[1]: v["status"] for k, v in folded["saga_steps"].items()} == {
        0: "succeeded",
        1: "succeeded",
        2: "succeeded",
    }
    for table in ("sagas", "saga_steps"):
        for key, columns in folded[table].items():
            values = row_values(table, key, columns)
            assert len(values) == len(TABLES[table][1])
    saga_row = dict(zip(TABLES["sagas"][1], row_values("sagas", (SAGA,), folded["sagas"][(SAGA,)]), strict=True))
    assert json.loads(saga_row["params"]) == {}


def test_a_saga_that_cannot_start_is_shown_failed_with_the_reason() -> None:
    folded = rows(run([command(StartSaga(saga_id=SAGA, definition="unknown"))]))
    assert folded["sagas"][(SAGA,)]["status"] == "failed"
    assert "no saga definition named 'unknown'" in folded["sagas"][(SAGA,)]["reason"]
