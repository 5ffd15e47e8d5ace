"""Orchestrator (faust-streaming): turns goals into plans and plans into tasks, follows every task to its end.

One agent reads goal commands and task events (both keyed by goal id, co-partitioned with the ``goals`` table)
in order, asks the pure decider what follows, publishes that and stores the goal's new record; timeouts are
scheduled events. Agent registrations feed a global table of the fleet's capabilities, which agent-written
plans are validated against. The end of every saga the orchestrator started for a group of a goal's steps is
relayed from the saga events (keyed by saga id) onto the goal's partition as ``GoalSagaEnded``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import faust

from services.orchestrator import saga_groups
from services.orchestrator.decider import Context, Delayed, decide, handled_types
from services.orchestrator.goal_record import GoalRecord
from services.orchestrator.settings import OrchestratorSettings
from shared.bus.changelog import COMPACTING_CHANGELOG
from shared.bus.faust_stream import FaustPublisher, envelopes, make_app, raw_topic
from shared.bus.partitioning import table_partitions
from shared.bus.producer import EventProducer
from shared.bus.table_values import BYTES_VALUED, decode_value, encode_value
from shared.bus.topics import AGENTS_EVENTS, GOALS_COMMANDS, SAGAS_EVENTS, TASKS_EVENTS
from shared.events.envelope import Envelope
from shared.events.scheduling_client import schedule
from shared.settings import Settings

log = logging.getLogger(__name__)
APP_ID = "architect-orchestrator"
#: The fleet table's keys and values as plain JSON: a model class here would make changelog recovery call
#: ``from_data``.
JSON_SCHEMA = faust.Schema(key_serializer="json", value_serializer="json")


def restore_root_log_level() -> None:
    """Undo the DEBUG level faust's worker gives the root logger for its start-up spinner.

    The worker leaves it there, so every debug call of aiokafka and faust on the hot path built a log record
    that its handlers then dropped (about a tenth of the orchestrator's CPU under load). The root logger gets
    the lowest level of its real handlers back (the worker's ``--loglevel``).
    """
    root = logging.getLogger()
    levels = [handler.level for handler in root.handlers if type(handler).__name__ != "SpinnerHandler"]
    root.setLevel(min((level for level in levels if level > logging.NOTSET), default=logging.WARNING))


#: The topics the goals table follows (it must have their partition count).
GOAL_SOURCES = (GOALS_COMMANDS, TASKS_EVENTS)
#: Everything the orchestrator reads: the goal sources, the fleet (capabilities a plan may need), saga endings.
TOPICS = (*GOAL_SOURCES, AGENTS_EVENTS, SAGAS_EVENTS)
#: The types each stream acts on; records of other types (its own TaskCreated echoed back, agent heartbeats)
#: are skipped by their ``architect-type`` header without being decoded.
GOAL_TYPES = frozenset(handled_types())
FLEET_TYPES = frozenset({"AgentRegistered", "AgentDeregistered"})
SAGA_TYPES = frozenset(saga_groups.ENDINGS)
#: Goal records kept decoded beside the table (see ``GoalRecords``).
DECODED_GOALS = 20_000


class GoalRecords:
    """The goals table's values (each record's JSON bytes, see ``table_values``) decoded once.

    A cached record is reused while the table still holds the very bytes it was decoded from (the memory store
    keeps what was set), so a restored or rebalanced table, whose values are new objects, is always decoded
    afresh. Only unfinished goals stay decoded: a finished goal rarely hears of again, and the cache is the part
    of the table the garbage collector has to walk.
    """

    def __init__(self, table: Any, limit: int = DECODED_GOALS) -> None:
        self._table = table
        self._limit = limit
        self._decoded: dict[str, tuple[Any, GoalRecord]] = {}

    def get(self, goal_id: str) -> GoalRecord | None:
        stored = self._table.get(goal_id)
        if not stored:
            return None
        cached = self._decoded.get(goal_id)
        if cached is not None and cached[0] is stored:
            return cached[1]
        record = GoalRecord.from_dict(decode_value(stored))
        self._remember(goal_id, stored, record)
        return record

    def put(self, goal_id: str, record: GoalRecord) -> None:
        self._table[goal_id] = encode_value(record.to_dict())
        self._remember(goal_id, self._table.get(goal_id), record)

    def _remember(self, goal_id: str, stored: Any, record: GoalRecord) -> None:
        self._decoded.pop(goal_id, None)
        if record.finished:
            return
        if len(self._decoded) >= self._limit:
            del self._decoded[next(iter(self._decoded))]  # the least recently written
        self._decoded[goal_id] = (stored, record)


def build_app(settings: Settings, options: OrchestratorSettings | None = None) -> faust.App:
    options = options or OrchestratorSettings()
    domain, timeouts, approvers = options.domain(), options.timeouts(), options.approver_set()
    app = make_app(APP_ID, settings)
    goals = app.Table(
        "goals",
        default=None,
        partitions=table_partitions(settings, APP_ID, "goals", GOAL_SOURCES),
        extra_topic_configs=COMPACTING_CHANGELOG,
        **BYTES_VALUED,
    )
    fleet = app.GlobalTable("fleet", default=None, schema=JSON_SCHEMA, extra_topic_configs=COMPACTING_CHANGELOG)
    records = GoalRecords(goals)
    publisher = FaustPublisher(app)
    dead_letters = EventProducer(settings, client_id="orchestrator-dlq")

    async def on_goal_event(event: Envelope[Any]) -> None:
        goal_id = event.stream_id
        record = records.get(goal_id)
        agents = {agent: tuple(caps) for agent, caps in fleet.items() if caps}
        capabilities = frozenset(c for caps in agents.values() for c in caps)
        decision = decide(record, event, Context(domain, capabilities, timeouts, approvers, time.time(), agents))
        for out in decision.emit:
            if isinstance(out, Delayed):
                await publisher.publish(schedule(out.event, delay_s=out.delay_s, producer="orchestrator"))
            else:
                await publisher.publish(out)
        if decision.record is not None and decision.record is not record and decision.record != record:
            records.put(goal_id, decision.record)

    async def on_agent_event(event: Envelope[Any]) -> None:
        if event.type == "AgentRegistered":
            fleet[event.payload.agent_id] = list(event.payload.capabilities)
        elif event.type == "AgentDeregistered":
            fleet.pop(event.payload.agent_id, None)

    async def on_saga_event(event: Envelope[Any]) -> None:
        ended = saga_groups.relay(event)
        if ended is not None:
            await publisher.publish(ended)

    @app.task
    async def quiet_root_logger() -> None:
        restore_root_log_level()

    @app.agent(raw_topic(app, *GOAL_SOURCES), name="goals", concurrency=1)
    async def follow_goals(stream: faust.StreamT) -> None:
        async for _ in envelopes(
            stream, on_goal_event, group=APP_ID, settings=settings, dead_letters=dead_letters, types=GOAL_TYPES
        ):
            # Taking buffered events never suspends, so without this the producer's sender would not run until
            # a whole buffered chunk was handled: the tasks a goal just created would wait for it unsent.
            await asyncio.sleep(0)

    @app.agent(raw_topic(app, AGENTS_EVENTS), name="fleet", concurrency=1)
    async def follow_fleet(stream: faust.StreamT) -> None:
        async for _ in envelopes(
            stream, on_agent_event, group=APP_ID, settings=settings, dead_letters=dead_letters, types=FLEET_TYPES
        ):
            pass

    @app.agent(raw_topic(app, SAGAS_EVENTS), name="sagas", concurrency=1)
    async def follow_sagas(stream: faust.StreamT) -> None:
        async for _ in envelopes(
            stream, on_saga_event, group=APP_ID, settings=settings, dead_letters=dead_letters, types=SAGA_TYPES
        ):
            pass

    return app
