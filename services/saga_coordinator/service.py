"""Saga coordinator (faust-streaming): runs saga definitions step by step and compensates them on failure.

One agent reads saga commands and task events (both keyed by saga id, co-partitioned with the ``sagas``
table) in order, asks the pure ``coordinator.decide`` what follows, publishes it and stores the saga's new
record. A step is a task for an agent (TaskCreated with the saga id as goal id, so the assigner and the agent
runtime execute it; the orchestrator ignores tasks of goals it does not know) or a command answered with
ReportSagaActionResult. Retries and deadlines are scheduled commands delivered by the scheduler. After a
crash the table is restored from its changelog and uncommitted inputs are handled again; the saga ignores
results it is no longer waiting for, and every emitted id is stable, so nothing is done twice.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import faust

from services.saga_coordinator.coordinator import Delayed, decide
from services.saga_coordinator.settings import SagaSettings
from shared.bus.faust_stream import FaustPublisher, envelopes, make_app, raw_topic
from shared.bus.producer import EventProducer
from shared.bus.topics import SAGAS_COMMANDS, TASKS_EVENTS
from shared.events.envelope import Envelope
from shared.events.scheduling_client import schedule
from shared.settings import Settings

log = logging.getLogger(__name__)
APP_ID = "architect-saga-coordinator"
PRODUCER = "saga-coordinator"
#: Table keys and values as plain JSON: a model class here would make changelog recovery call ``from_data``.
JSON_SCHEMA = faust.Schema(key_serializer="json", value_serializer="json")
#: Task events the coordinator reacts to; the rest of the (busy) task topic is skipped before any lookup.
TASK_RESULTS = frozenset({"TaskSucceeded", "TaskAbandoned"})


def build_app(settings: Settings, options: SagaSettings | None = None) -> faust.App:
    options = options or SagaSettings()
    definitions = options.definitions()
    app = make_app(APP_ID, settings)
    sagas = app.Table("sagas", default=None, partitions=settings.topic_partitions, schema=JSON_SCHEMA)
    publisher = FaustPublisher(app)
    dead_letters = EventProducer(settings, client_id="saga-coordinator-dlq")

    async def on_event(event: Envelope[Any]) -> None:
        if event.type.startswith("Task") and event.type not in TASK_RESULTS:
            return
        saga_id = event.stream_id
        stored = sagas.get(saga_id)
        if stored is None and event.type != "StartSaga":
            return
        decision = decide(stored, event, time.time(), definitions)
        for out in decision.emit:
            if isinstance(out, Delayed):
                await publisher.publish(schedule(out.event, delay_s=out.delay_s, producer=PRODUCER))
            else:
                await publisher.publish(out)
        if decision.record is not None and decision.record != stored:
            sagas[saga_id] = decision.record

    @app.agent(raw_topic(app, SAGAS_COMMANDS, TASKS_EVENTS), name="sagas", concurrency=1)
    async def follow_sagas(stream: faust.StreamT) -> None:
        async for _ in envelopes(stream, on_event, group=APP_ID, settings=settings, dead_letters=dead_letters):
            pass

    return app
