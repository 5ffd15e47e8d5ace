"""The coordinator's handler sends without waiting: each stored record carries the events not yet acknowledged, so a
crash that lost any of a decision's records (events or the table's changelog) loses nothing and decides nothing
twice when the inputs are handled again."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest

from services.saga_coordinator.definitions import parse_definition
from services.saga_coordinator.handler import PENDING, SagaHandler
from shared.bus.table_values import JsonValued
from shared.events.catalogue.sagas import StartSaga
from shared.events.catalogue.tasks import TaskStarted, TaskSucceeded
from shared.events.codec import new_event
from shared.events.envelope import Envelope, Payload

SAGA = "s1"
DEFINITIONS = {
    "pair": parse_definition(
        {
            "name": "pair",
            "steps": [{"name": "one", "action": {"operator": "a"}}, {"name": "two", "action": {"operator": "b"}}],
        }
    )
}


class Delivery:
    """What ``send`` returns: done once the broker acknowledged (or refused) the event."""

    def __init__(self) -> None:
        self.state: str | None = None

    def done(self) -> bool:
        return self.state is not None

    def cancelled(self) -> bool:
        return False

    def exception(self) -> Exception | None:
        return RuntimeError("refused") if self.state == "failed" else None


class Broker:
    """Sent events wait in the producer until ``flush`` (delivered) or a crash (lost)."""

    def __init__(self) -> None:
        self.sent: list[Envelope[Any]] = []
        self.buffered: list[tuple[Envelope[Any], Delivery]] = []
        self.delivered: list[Envelope[Any]] = []

    async def send(self, event: Envelope[Any]) -> Delivery:
        delivery = Delivery()
        self.sent.append(event)
        self.buffered.append((event, delivery))
        return delivery

    def flush(self, keep: int | None = None, state: str = "acked") -> None:
        """Deliver the first ``keep`` buffered events (all by default); the rest are lost."""
        for index, (event, delivery) in enumerate(self.buffered):
            if keep is None or index < keep:
                self.delivered.append(event)
                delivery.state = state
        self.buffered = []


def command(payload: Payload) -> Envelope[Any]:
    return new_event(payload, producer="test", stream_id=SAGA, correlation_id=SAGA)


def run(handler: SagaHandler, event: Envelope[Any]) -> None:
    asyncio.run(handler(event))


START = command(StartSaga(saga_id=SAGA, definition="pair"))
ONE_DONE = command(TaskSucceeded(task_id=f"{SAGA}/one/a1", goal_id=SAGA, agent_id="x"))
TWO_DONE = command(TaskSucceeded(task_id=f"{SAGA}/two/a1", goal_id=SAGA, agent_id="x"))


def reference_ids() -> set[Any]:
    """Event ids a run without any crash delivers."""
    broker = Broker()
    handler = SagaHandler({}, broker.send, DEFINITIONS, clock=lambda: 10.0)
    for event in (START, ONE_DONE, TWO_DONE):
        run(handler, event)
        broker.flush()
    return {e.event_id for e in broker.delivered}


def test_without_a_crash_each_event_is_sent_once_and_the_debt_shrinks_to_the_latest_decision() -> None:
    table: dict[str, Any] = {}
    broker = Broker()
    handler = SagaHandler(table, broker.send, DEFINITIONS, clock=lambda: 10.0)
    run(handler, START)
    first = [e.event_id for e in broker.sent]
    assert table[SAGA][PENDING]["cause"] == str(START.event_id)
    broker.flush()

    run(handler, ONE_DONE)
    assert not set(first) & {e.event_id for e in broker.sent[len(first) :]}, "acknowledged events not sent again"
    assert len(table[SAGA][PENDING]["events"]) == len(broker.sent) - len(first), "only the new decision is owed"
    count = len(broker.sent)
    run(handler, START)  # a redelivered input the saga is past
    run(handler, command(TaskStarted(task_id=f"{SAGA}/two/a1", goal_id=SAGA, agent_id="x")))
    run(handler, command(TaskSucceeded(task_id="other/one/a1", goal_id="other", agent_id="x")))
    assert len(broker.sent) == count


def test_an_event_still_in_flight_is_carried_and_one_the_broker_refused_is_sent_again() -> None:
    table: dict[str, Any] = {}
    broker = Broker()
    handler = SagaHandler(table, broker.send, DEFINITIONS, clock=lambda: 10.0)
    run(handler, START)
    started = list(broker.sent)

    run(handler, ONE_DONE)  # START's events are neither acknowledged nor refused yet
    assert [e.event_id for e in broker.sent[: len(started)]] == [e.event_id for e in started]
    assert len(table[SAGA][PENDING]["events"]) == len(broker.sent), "both decisions are owed"
    assert not {e.event_id for e in broker.sent[len(started) :]} & {e.event_id for e in started}

    broker.flush(state="failed")
    sent = len(broker.sent)
    run(handler, TWO_DONE)
    resent = {e.event_id for e in broker.sent[sent:]}
    assert {e.event_id for e in started} <= resent, "refused events are sent again, with their ids"


@pytest.mark.parametrize(("changelog_kept", "delivered"), list(itertools.product([True, False], [0, 1, 2, 3, None])))
def test_a_crash_before_the_flush_loses_nothing_and_decides_nothing_twice(
    changelog_kept: bool, delivered: int | None
) -> None:
    table: dict[str, Any] = {}
    broker = Broker()
    run(SagaHandler(table, broker.send, DEFINITIONS, clock=lambda: 10.0), START)
    broker.flush()  # committed
    before = dict(table)

    run(SagaHandler(table, broker.send, DEFINITIONS, clock=lambda: 10.0), ONE_DONE)
    broker.flush(keep=delivered)  # the process dies: some of ONE_DONE's events reached Kafka, the rest did not
    if not changelog_kept:
        table = before

    restarted = SagaHandler(table, broker.send, DEFINITIONS, clock=lambda: 50.0)
    run(restarted, ONE_DONE)  # not committed: handled again
    broker.flush()
    run(restarted, TWO_DONE)
    broker.flush()

    assert {e.event_id for e in broker.delivered} == reference_ids(), "nothing lost, no new ids"
    created = {e.event_id: e.payload.task_id for e in broker.delivered if e.type == "TaskCreated"}
    assert sorted(created.values()) == [f"{SAGA}/one/a1", f"{SAGA}/two/a1"]
    assert broker.delivered[-1].type == "SagaCompleted"


def test_a_table_of_json_bytes_gives_the_same_run_as_one_of_documents() -> None:
    """The service keeps its sagas as JSON bytes (``JsonValued``): every record the handler stores must survive
    the round trip, and the saga must run exactly as over a table of documents."""
    runs = []
    for table in ({}, JsonValued({})):
        broker = Broker()
        handler = SagaHandler(table, broker.send, DEFINITIONS, clock=lambda: 10.0)
        for event in (START, ONE_DONE, TWO_DONE):
            run(handler, event)
            broker.flush()
        records = json.loads(json.dumps(dict(table)))  # as JSON: tuples come back as lists
        for record in records.values():  # owed events by id (each was stamped with the time it was built)
            owed = record.get(PENDING) or {"events": []}
            owed["events"] = [json.loads(text)["event_id"] for text in owed["events"]]
        runs.append(([e.event_id for e in broker.delivered], records))
    assert runs[0] == runs[1]
