"""Consensus engine (faust-streaming): decisions as event-sourced aggregates, decided by their tier's protocols.

One agent reads decision commands (keyed by decision id, co-partitioned with the ``decisions`` table) in
order, among them the results of voters' tasks, which the assigner copies there (``TaskCreated.reply_to``,
``shared/bus/replies.py``) so that the engine need not read the whole task topic. It asks the pure
``engine.decide`` what follows, stores the decision's new record and publishes what follows
(``handler.DecisionHandler``). Voters are asked through a task each (TaskCreated with the decision id as goal
id, so the assigner and the agent runtime execute it; the orchestrator ignores tasks of goals it does not know)
or answer with CastVote / Contribute commands. Round deadlines are scheduled commands delivered by the
scheduler. After a crash the table is restored from its changelog and uncommitted inputs are handled again with
the same event ids.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import faust

from services.consensus.engine import EngineOptions
from services.consensus.handler import TASK_RESULTS, DecisionHandler
from services.consensus.saga_bridge import request_for, unusable_params_reply
from services.consensus.settings import ConsensusSettings
from services.consensus.track_book import TRACK_RECORD_PREFIX, record_verdicts, track_records
from shared.bus.changelog import COMPACTING_CHANGELOG
from shared.bus.faust_stream import FaustPublisher, envelopes, make_app, raw_topic
from shared.bus.partitioning import table_partitions
from shared.bus.producer import EventProducer
from shared.bus.table_values import BYTES_VALUED, JsonValued
from shared.bus.topics import DECISIONS_COMMANDS, SAGAS_EVENTS
from shared.crdt.replica import Replica
from shared.events.catalogue import CATALOGUE
from shared.events.codec import new_event
from shared.events.envelope import Envelope
from shared.settings import Settings

log = logging.getLogger(__name__)
APP_ID = "architect-consensus"


#: The topics the decisions table follows (it must have their partition count): decision commands, and the
#: results of voters' tasks the assigner copies there.
DECISION_SOURCES = (DECISIONS_COMMANDS,)
#: The types the handler acts on: a task event other than a result (a copied TaskAbandoned) is skipped by its
#: header, undecoded, exactly as ``DecisionHandler`` would ignore it after decoding.
DECISION_INPUTS = frozenset(name for name in CATALOGUE if not name.startswith("Task") or name in TASK_RESULTS)


def build_app(settings: Settings, options: EngineOptions | None = None) -> faust.App:
    options = options or ConsensusSettings().engine_options()
    app = make_app(APP_ID, settings)
    decisions = app.Table(
        "decisions",
        default=None,
        partitions=table_partitions(settings, APP_ID, "decisions", DECISION_SOURCES),
        extra_topic_configs=COMPACTING_CHANGELOG,
        **BYTES_VALUED,
    )
    publisher = FaustPublisher(app)
    dead_letters = EventProducer(settings, client_id="consensus-dlq")
    # Track records are replicated CRDT state: read when a decision opens, written when one is judged.
    # Only the track-record objects: the fleet's counters (large, busy) are skipped undecoded.
    records = Replica(settings, f"consensus-{uuid.uuid4().hex[:8]}", objects=(TRACK_RECORD_PREFIX,))

    def record_judgement(decision_id: str, verdicts: dict[str, bool]) -> None:
        record_verdicts(lambda name, change: records.update(name, change, flush=False), decision_id, verdicts)
        records.flush()

    async def publish(event: Envelope[Any]) -> None:
        await publisher.publish(event, wait=True)
        if event.type == "DecisionJudged":  # also when a debt is paid after a crash: recording is idempotent
            await asyncio.to_thread(record_judgement, event.payload.decision_id, dict(event.payload.verdicts))

    on_event = DecisionHandler(
        JsonValued(decisions), publish, options, track_records=lambda agents: track_records(records.get, agents)
    )

    @app.task
    async def follow_track_records() -> None:
        await asyncio.to_thread(records.start)

    @app.agent(raw_topic(app, *DECISION_SOURCES), name="decisions", concurrency=1)
    async def follow_decisions(stream: faust.StreamT) -> None:
        async for _ in envelopes(
            stream, on_event, group=APP_ID, settings=settings, dead_letters=dead_letters, types=DECISION_INPUTS
        ):
            pass

    async def ask_for_saga(event: Envelope[Any]) -> None:
        """A saga step that asks for a decision becomes a RequestDecision (a bad one fails the step at once)."""
        request = request_for(event)
        payload: Any = request if request is not None else unusable_params_reply(event)
        if payload is None:
            return
        stream = payload.decision_id if request is not None else payload.saga_id
        out = new_event(
            payload,
            producer="consensus",
            stream_id=stream,
            correlation_id=event.correlation_id,
            causation_id=event.event_id,
            event_id=event.derive_id("decision-request"),
        )
        await publish(out)

    @app.agent(raw_topic(app, SAGAS_EVENTS), name="saga-decisions", concurrency=1)
    async def follow_sagas(stream: faust.StreamT) -> None:
        async for _ in envelopes(stream, ask_for_saga, group=APP_ID, settings=settings, dead_letters=dead_letters):
            pass

    return app
