"""Drift monitor (faust-streaming): scores every agent's behaviour against its baseline and contains drift.

Two agents (plus ``FleetWatch``, which turns task events into coordination drift findings on the way):
- ``samples`` reads task outcomes (keyed by goal) and republishes each behavioural one as a
  ``BehaviourSampled`` keyed by agent id on ``architect.drift.events``;
- ``agents`` reads ``architect.drift.events`` and ``architect.agents.events`` (both keyed by agent id, so an
  agent's samples, resets and registration arrive in order on one partition), asks the pure ``monitor.decide``
  what follows, publishes it (stability scores with ABA anchors, alerts, reset requests, EMC consolidation
  requests) and stores the agent's record in the changelog-backed ``drift_agents`` table, each baseline sample
  under a key of its own (``record_store``) so that a sample rewrites only the small rest of the record.
"""

from __future__ import annotations

import logging
from typing import Any

import faust

from services.drift_monitor.embedding import EmbeddingProvider
from services.drift_monitor.fleet_watch import FleetWatch
from services.drift_monitor.monitor import MonitorConfig, decide
from services.drift_monitor.record_store import load, writes
from services.drift_monitor.settings import DriftMonitorSettings
from services.drift_monitor.task_samples import behaviour_sample
from shared.bus.changelog import COMPACTING_CHANGELOG
from shared.bus.faust_stream import FaustPublisher, envelopes, make_app, raw_topic
from shared.bus.partitioning import table_partitions
from shared.bus.producer import EventProducer
from shared.bus.topics import AGENTS_EVENTS, DRIFT_EVENTS, TASKS_EVENTS
from shared.events.catalogue.drift import FLEET_STREAM
from shared.events.codec import caused_by
from shared.events.envelope import Envelope
from shared.settings import Settings

log = logging.getLogger(__name__)
APP_ID = "architect-drift-monitor"
PRODUCER = "drift-monitor"
#: Table keys and values as plain JSON: a model class here would make changelog recovery call ``from_data``.
JSON_SCHEMA = faust.Schema(key_serializer="json", value_serializer="json")


def monitor_config(options: DriftMonitorSettings) -> MonitorConfig:
    return MonitorConfig(
        drift=options.drift_settings(),
        consolidation_interval=options.consolidation_interval,
        keep_last=options.keep_last,
        max_anchors=options.max_anchors,
    )


#: The per-agent table, and the topics it follows (it must have their partition count).
TABLE = "drift_agents"
AGENT_SOURCES = (DRIFT_EVENTS, AGENTS_EVENTS)


def build_app(
    settings: Settings, options: DriftMonitorSettings | None = None, embedder: EmbeddingProvider | None = None
) -> faust.App:
    options = options or DriftMonitorSettings()
    config = monitor_config(options)
    embedding = embedder or options.embedder()
    app = make_app(APP_ID, settings)
    records = app.Table(
        TABLE,
        default=None,
        partitions=table_partitions(settings, APP_ID, TABLE, AGENT_SOURCES),
        schema=JSON_SCHEMA,
        # Rewritten with every sample: compacted while it is written, so a restart reads back little of it.
        extra_topic_configs=COMPACTING_CHANGELOG,
    )
    publisher = FaustPublisher(app)
    dead_letters = EventProducer(settings, client_id="drift-monitor-dlq")
    fleet = FleetWatch()

    async def on_task_event(event: Envelope[Any]) -> None:
        sample = behaviour_sample(event.payload)
        if sample is not None:
            await publisher.publish(
                caused_by(event, sample, producer=PRODUCER, kind="behaviour-sample", stream_id=sample.agent_id)
            )
        for index, finding in enumerate(fleet.observe_task(event.payload, event.occurred_at.timestamp())):
            kind = f"coordination:{index}"
            await publisher.publish(caused_by(event, finding, producer=PRODUCER, kind=kind, stream_id=FLEET_STREAM))

    async def on_agent_event(event: Envelope[Any]) -> None:
        agent_id = event.stream_id
        fleet.observe_agent(event.payload)
        loaded = load(records, agent_id)
        if loaded.items_missing:
            log.warning("the record of agent %s counts baseline samples not stored: a new baseline is built", agent_id)
        decision = decide(loaded.record, event.payload, config, embedding)
        for kind, payload in decision.emit:
            await publisher.publish(caused_by(event, payload, producer=PRODUCER, kind=kind, stream_id=agent_id))
        if decision.record is not None:
            for key, value in writes(agent_id, loaded, decision.record.to_dict()):
                records[key] = value

    @app.agent(raw_topic(app, TASKS_EVENTS), name="samples", concurrency=1)
    async def sample_tasks(stream: faust.StreamT) -> None:
        async for _ in envelopes(stream, on_task_event, group=APP_ID, settings=settings, dead_letters=dead_letters):
            pass

    @app.agent(raw_topic(app, *AGENT_SOURCES), name="agents", concurrency=1)
    async def follow_agents(stream: faust.StreamT) -> None:
        async for _ in envelopes(stream, on_agent_event, group=APP_ID, settings=settings, dead_letters=dead_letters):
            pass

    return app
