"""The coordinator's handler: store first, publish, clear the debt; a crash in between is paid on replay."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.saga_coordinator.definitions import parse_definition
from services.saga_coordinator.handler import PENDING, SagaHandler
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


class Crash(Exception):
    """The process died while publishing."""


class Broker:
    """Records published events; can be told to die after some more publishes."""

    def __init__(self) -> None:
        self.published: list[Envelope[Any]] = []
        self.crash_after: int | None = None

    async def publish(self, event: Envelope[Any]) -> None:
        if self.crash_after is not None:
            if self.crash_after == 0:
                raise Crash
            self.crash_after -= 1
        self.published.append(event)


def command(payload: Payload) -> Envelope[Any]:
    return new_event(payload, producer="test", stream_id=SAGA, correlation_id=SAGA)


def run(handler: SagaHandler, event: Envelope[Any]) -> None:
    asyncio.run(handler(event))


def reference_ids(inputs: list[Envelope[Any]]) -> set[Any]:
    """Event ids a run without any crash publishes for ``inputs``."""
    broker = Broker()
    handler = SagaHandler({}, broker.publish, DEFINITIONS, clock=lambda: 10.0)
    for event in inputs:
        run(handler, event)
    return {e.event_id for e in broker.published}


@pytest.mark.parametrize("published_before_crash", [0, 1, 2, 3])
def test_a_crash_mid_publish_is_repaid_with_the_same_ids_when_the_input_is_replayed(
    published_before_crash: int,
) -> None:
    start = command(StartSaga(saga_id=SAGA, definition="pair"))
    done = command(TaskSucceeded(task_id=f"{SAGA}/one/a1", goal_id=SAGA, agent_id="x"))
    table: dict[str, Any] = {}
    broker = Broker()
    run(SagaHandler(table, broker.publish, DEFINITIONS, clock=lambda: 10.0), start)

    broker.crash_after = published_before_crash
    with pytest.raises(Crash):
        run(SagaHandler(table, broker.publish, DEFINITIONS, clock=lambda: 10.0), done)
    assert table[SAGA][PENDING]["cause"] == str(done.event_id), "the debt was stored before publishing"

    broker.crash_after = None
    restarted = SagaHandler(table, broker.publish, DEFINITIONS, clock=lambda: 50.0)
    run(restarted, start)  # replayed inputs: the saga is past this one ...
    run(restarted, done)  # ... and this one's events were owed
    assert PENDING not in table[SAGA]
    assert {e.event_id for e in broker.published} == reference_ids([start, done]), "nothing lost, no new ids"
    created = {e.event_id: e.payload.task_id for e in broker.published if e.type == "TaskCreated"}
    assert sorted(created.values()) == [f"{SAGA}/one/a1", f"{SAGA}/two/a1"]

    run(restarted, command(TaskSucceeded(task_id=f"{SAGA}/two/a1", goal_id=SAGA, agent_id="x")))
    assert broker.published[-1].type == "SagaCompleted"


def test_without_a_crash_nothing_is_owed_and_a_replay_emits_nothing() -> None:
    table: dict[str, Any] = {}
    broker = Broker()
    handler = SagaHandler(table, broker.publish, DEFINITIONS)
    start = command(StartSaga(saga_id=SAGA, definition="pair"))
    run(handler, start)
    assert PENDING not in table[SAGA]
    count = len(broker.published)
    run(handler, start)
    run(handler, command(TaskStarted(task_id=f"{SAGA}/one/a1", goal_id=SAGA, agent_id="x")))
    run(handler, command(TaskSucceeded(task_id="other/one/a1", goal_id="other", agent_id="x")))
    assert len(broker.published) == count
