"""Saga coordinator (faust-streaming): runs saga definitions step by step and compensates them on failure.

One agent reads saga commands (keyed by saga id, co-partitioned with the ``sagas`` table) in order, among them
the outcomes of the saga's step tasks, which the assigner copies there (``TaskCreated.reply_to``,
``shared/bus/replies.py``) so that the coordinator need not read the whole task topic. It asks the pure
``coordinator.decide`` what follows, stores the saga's new record and publishes what follows
(``handler.SagaHandler``) without waiting for each acknowledgement (faust flushes before it commits). Records
of types it ignores are skipped by their ``architect-type`` header, undecoded. A cancelled goal's sagas are
aborted by ``AbortSaga`` commands from the orchestrator, which started them (``orchestrator.saga_groups``).

A step is a task for an agent (TaskCreated with the saga id as goal id, so the assigner and the agent runtime
execute it; the orchestrator ignores tasks of goals it does not know) or a command answered with
ReportSagaActionResult. Retries and deadlines are scheduled commands delivered by the scheduler. After a crash
the table is restored from its changelog and uncommitted inputs are handled again; the saga ignores results it
is no longer waiting for, re-sends events a crash may have kept from Kafka, and every emitted id is stable, so
nothing is lost and nothing is requested twice.
"""

from __future__ import annotations

import logging
from typing import Any

import faust

from services.saga_coordinator.coordinator import HANDLED_TYPES
from services.saga_coordinator.handler import Delivery, SagaHandler
from services.saga_coordinator.settings import SagaSettings
from shared.bus.changelog import COMPACTING_CHANGELOG
from shared.bus.faust_stream import FaustPublisher, envelopes, make_app, raw_topic
from shared.bus.partitioning import table_partitions
from shared.bus.producer import EventProducer
from shared.bus.table_values import BYTES_VALUED, JsonValued
from shared.bus.topics import SAGAS_COMMANDS
from shared.events.envelope import Envelope
from shared.settings import Settings

log = logging.getLogger(__name__)
APP_ID = "architect-saga-coordinator"


#: The topics the sagas table follows (it must have their partition count): saga commands, and the outcomes of
#: step tasks the assigner copies there.
SAGA_SOURCES = (SAGAS_COMMANDS,)
#: What the sagas agent acts on: saga commands and the task results of saga steps.
SAGA_INPUT_TYPES = HANDLED_TYPES


def build_app(settings: Settings, options: SagaSettings | None = None) -> faust.App:
    options = options or SagaSettings()
    definitions = options.definitions()
    app = make_app(APP_ID, settings)
    sagas = app.Table(
        "sagas",
        default=None,
        partitions=table_partitions(settings, APP_ID, "sagas", SAGA_SOURCES),
        extra_topic_configs=COMPACTING_CHANGELOG,
        **BYTES_VALUED,
    )
    publisher = FaustPublisher(app)
    dead_letters = EventProducer(settings, client_id="saga-coordinator-dlq")

    async def send(event: Envelope[Any]) -> Delivery:
        delivery: Delivery = await publisher.publish(event)  # the producer's future for the record
        return delivery

    on_event = SagaHandler(JsonValued(sagas), send, definitions)

    @app.agent(raw_topic(app, *SAGA_SOURCES), name="sagas", concurrency=1)
    async def follow_sagas(stream: faust.StreamT) -> None:
        inputs = envelopes(
            stream, on_event, group=APP_ID, settings=settings, dead_letters=dead_letters, types=SAGA_INPUT_TYPES
        )
        async for _ in inputs:
            pass

    return app
