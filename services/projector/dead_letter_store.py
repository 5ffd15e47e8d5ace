"""The dead_letters read model, fed from the dead-letter topic (raw records, not envelopes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import psycopg

from shared.bus.dead_letters import DeadLetter, redriven_offset
from shared.bus.record import Record
from shared.db.connection import connect

PROJECTION = "dead-letters"


class DeadLetterStore:
    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: psycopg.Connection | None = None

    @property
    def conn(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = connect(self._url)
        return self._conn

    def positions(self) -> dict[tuple[str, int], int]:
        with self.conn.transaction():
            rows = self.conn.execute(
                "SELECT topic, partition, next_offset FROM projector_offsets WHERE projection = %s", (PROJECTION,)
            ).fetchall()
        return {(t, p): o for t, p, o in rows}

    def write(self, records: Sequence[Record]) -> None:
        """Dead letters become rows; a re-drive marker flags the letter it names (same topic, so in order)."""
        letters = [DeadLetter.from_record(r) for r in records if redriven_offset(r) is None]
        redriven = [(offset,) for r in records if (offset := redriven_offset(r)) is not None]
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO dead_letters (dlq_offset, reason, error, source_topic, source_partition, "
                    "source_offset, consumer_group, failed_at, key, value) VALUES "
                    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    [
                        (
                            d.offset,
                            d.reason,
                            d.error,
                            d.source_topic,
                            d.source_partition,
                            d.source_offset,
                            d.consumer_group,
                            datetime.fromtimestamp(d.failed_at_ms / 1000, UTC),
                            d.key,
                            d.value,
                        )
                        for d in letters
                    ],
                )
                cur.executemany("UPDATE dead_letters SET redriven = true WHERE dlq_offset = %s", redriven)
                last = max(r.offset for r in records)
                cur.execute(
                    "INSERT INTO projector_offsets (projection, topic, partition, next_offset) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (projection, topic, partition) "
                    "DO UPDATE SET next_offset = EXCLUDED.next_offset",
                    (PROJECTION, records[0].topic, records[0].partition, last + 1),
                )
        except psycopg.OperationalError:
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.close()
        self._conn = None
