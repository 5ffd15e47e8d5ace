"""Projector: every event topic -> the event log and read models in Postgres; the dead-letter topic -> dead_letters;
the shared CRDT state topic -> crdt_states, active_sessions, task_counters and file_locks (a record there that is
not a CRDT state is dead-lettered, as a malformed event is).

Positions live in Postgres next to the rows they produced, so on (re)assignment the consumer seeks to them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from services.projector.crdt_state_store import CrdtStateStore, state_problem
from services.projector.dead_letter_store import DeadLetterStore
from services.projector.store import ProjectorStore, is_logged_here
from shared import tracing
from shared.bus.consumer import BACKGROUND_FETCH, ConsumerLoop, Delivery, RawConsumerLoop
from shared.bus.producer import EventProducer
from shared.bus.record import Record
from shared.bus.topics import DEAD_LETTERS, EVENT_TOPICS, STATE_CRDT
from shared.settings import Settings

log = logging.getLogger(__name__)
GROUP = "architect-projector"
DLQ_GROUP = "architect-projector-dlq"
CRDT_GROUP = "architect-projector-crdt"


def seek_to_stored(
    positions: Callable[[], dict[tuple[str, int], int]],
) -> Callable[[list[TopicPartition]], list[TopicPartition]]:
    def on_assign(partitions: list[TopicPartition]) -> list[TopicPartition]:
        stored = positions()
        for tp in partitions:
            tp.offset = stored.get((tp.topic, tp.partition), OFFSET_BEGINNING)
        return partitions

    return on_assign


class Projector:
    """The three loops of the projector service, run side by side until stopped."""

    def __init__(self, settings: Settings, database_url: str, *, max_batch: int = 2000) -> None:
        # One producer per loop: a producer reports a failed delivery to whichever thread flushes it next, and each
        # loop must know whether its own dead letters were stored before it stores positions past them.
        self.producers = [EventProducer(settings, client_id=f"projector{part}") for part in ("", "-dlq", "-crdt")]
        self.store = ProjectorStore(database_url)
        self.dead_letters = DeadLetterStore(database_url)
        self.crdt_states = CrdtStateStore(database_url)
        self.events = ConsumerLoop(
            settings,
            group_id=GROUP,
            topics=EVENT_TOPICS,
            producer=self.producers[0],
            batch_handler=self._write,
            on_assign=seek_to_stored(self.store.positions),
            max_batch=max_batch,
            accepts=is_logged_here,
            overrides=BACKGROUND_FETCH,
        )
        self.letters = RawConsumerLoop(
            settings,
            group_id=DLQ_GROUP,
            topics=[DEAD_LETTERS],
            producer=self.producers[1],
            raw_handler=self.dead_letters.write,
            on_assign=seek_to_stored(self.dead_letters.positions),
            overrides=BACKGROUND_FETCH,
        )
        self.shared_state = RawConsumerLoop(
            settings,
            group_id=CRDT_GROUP,
            topics=[STATE_CRDT],
            producer=self.producers[2],
            raw_handler=self.crdt_states.write,
            check=state_problem,
            on_assign=seek_to_stored(self.crdt_states.positions),
            overrides=BACKGROUND_FETCH,
        )

    def _write(self, deliveries: Sequence[Delivery], records: Sequence[Record]) -> None:
        """Write a batch in one transaction; each event gets a span (child of its producer's) lasting the batch."""
        started = time.time_ns()
        self.store.write(deliveries, records)
        tracing.record_batch_spans(deliveries, "project", started, time.time_ns())

    def run(self) -> None:
        side_loops = [(self.letters, "dead-letters"), (self.shared_state, "shared-state")]
        threads = [threading.Thread(target=loop.run, name=name, daemon=True) for loop, name in side_loops]
        for thread in threads:
            thread.start()
        try:
            self.events.run()
        finally:
            for loop, _ in side_loops:
                loop.stop()
            for thread in threads:
                thread.join(timeout=30)
            for producer in self.producers:
                try:
                    producer.close()
                except Exception:  # undelivered dead letters: their batches' positions were not stored
                    log.exception("projector: closing a producer")
            self.store.close()
            self.dead_letters.close()
            self.crdt_states.close()

    def stop(self) -> None:
        self.events.stop()
        self.letters.stop()
        self.shared_state.stop()
