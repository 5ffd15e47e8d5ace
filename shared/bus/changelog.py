"""Config for the faust tables' changelogs (every table of the services), compacted while they are written.

faust creates a table's changelog compacted (``cleanup.policy=compact``), with the table's
``extra_topic_configs`` on top. Kafka compacts only closed segments, never the one being written: under the
broker defaults (a segment closes at 1 GiB or after 7 days) a changelog is in practice never compacted, and a
restarted worker reads back every write its table ever made before it handles a record. With
``COMPACTING_CHANGELOG`` a segment closes every minute (or at 16 MiB), and the log cleaner (which looks every
15 s by default) compacts a log as soon as a tenth of it is overwritten records, so a restart reads about the
latest value per key plus the last minute or two of writes.
"""

from __future__ import annotations

#: ``extra_topic_configs`` of a faust table whose changelog is rewritten often (values as Kafka takes them).
COMPACTING_CHANGELOG: dict[str, str] = {
    "segment.ms": str(60_000),
    "segment.bytes": str(16 * 1024 * 1024),
    "min.cleanable.dirty.ratio": "0.1",
}
