"""Projector: every event topic -> the event log and read models in Postgres; the dead-letter topic -> dead_letters.

Positions live in Postgres next to the rows they produced, so on (re)assignment the consumer seeks to them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from services.projector.dead_letter_store import DeadLetterStore
from services.projector.store import ProjectorStore
from shared.bus.consumer import ConsumerLoop, RawConsumerLoop
from shared.bus.producer import EventProducer
from shared.bus.topics import DEAD_LETTERS, EVENT_TOPICS
from shared.settings import Settings

log = logging.getLogger(__name__)
GROUP = "architect-projector"
DLQ_GROUP = "architect-projector-dlq"


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
    """The two loops of the projector service, run side by side until stopped."""

    def __init__(self, settings: Settings, database_url: str, *, max_batch: int = 2000) -> None:
        self.producer = EventProducer(settings, client_id="projector")
        self.store = ProjectorStore(database_url)
        self.dead_letters = DeadLetterStore(database_url)
        self.events = ConsumerLoop(
            settings,
            group_id=GROUP,
            topics=EVENT_TOPICS,
            producer=self.producer,
            batch_handler=self.store.write,
            on_assign=seek_to_stored(self.store.positions),
            max_batch=max_batch,
        )
        self.letters = RawConsumerLoop(
            settings,
            group_id=DLQ_GROUP,
            topics=[DEAD_LETTERS],
            producer=self.producer,
            raw_handler=self.dead_letters.write,
            on_assign=seek_to_stored(self.dead_letters.positions),
        )

    def run(self) -> None:
        letters = threading.Thread(target=self.letters.run, name="dead-letters", daemon=True)
        letters.start()
        try:
            self.events.run()
        finally:
            self.letters.stop()
            letters.join(timeout=30)
            self.producer.close()
            self.store.close()
            self.dead_letters.close()

    def stop(self) -> None:
        self.events.stop()
        self.letters.stop()
