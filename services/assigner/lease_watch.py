"""The lock manager's leases as the assigner sees them, followed only while it needs them (Kafka plumbing).

The assigner retries a task given back for a lock conflict once its files are free (``lock_wake``), which needs
the ``file-locks`` object of the replicated CRDT state. A :class:`~shared.crdt.replica.Replica` follows it on a
thread of its own, a consumer reading the whole CRDT topic; so that an assigner whose fleet uses no file locks
runs neither (the latency path shares its GIL and cores), it runs only while some task waits for such a retry:
started at the first tick that finds one, stopped ``IDLE_S`` after the last. Starting (metadata and end offsets,
up to a minute or more while the broker is unwell) happens on a helper thread, never on the consumer loop's;
``grants`` answers once the replica has started and caught up. Until then, and while it cannot start (tried
again ``RETRY_START_S`` after each failure, or after its follower thread ended, which only a bug would do),
retries wait for their backoff. Called from the loop thread only.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor

from services.locks.lock_table import FILE_LOCKS
from shared.bus.producer import EventProducer
from shared.crdt.lww_map import LWWMap
from shared.crdt.replica import Replica
from shared.settings import Settings

log = logging.getLogger(__name__)
#: How long the leases are still followed after the last task waiting for them.
IDLE_S = 60.0
#: After a failed start, how long until the next try.
RETRY_START_S = 30.0


class LeaseWatch:
    def __init__(self, settings: Settings, replica_id: str, producer: EventProducer) -> None:
        self._settings, self._replica_id, self._producer = settings, replica_id, producer
        self._replica: Replica | None = None
        self._starting: Future[Replica] | None = None
        self._starter: ThreadPoolExecutor | None = None
        self._needed_at = 0.0
        self._next_start = 0.0

    @property
    def following(self) -> bool:
        return self._replica is not None

    @property
    def starting(self) -> bool:
        """A replica is being started on the helper thread."""
        return self._starting is not None

    def grants(self, needed: bool, now: float) -> LWWMap | None:
        """The leases, when ``needed`` and known (followed and caught up); follows or stops following as need be."""
        self._take_started(now)
        if self._replica is not None and not self._replica.alive:
            log.warning("the lock manager's leases are no longer followed; starting again in %.0fs", RETRY_START_S)
            self._replica.close()
            self._replica, self._next_start = None, now + RETRY_START_S
        if not needed:
            if self._replica is not None and now - self._needed_at > IDLE_S:
                self.close()
            return None
        self._needed_at = now
        if self._replica is None and self._starting is None and now >= self._next_start:
            self._start()
        if self._replica is None or not self._replica.wait_caught_up(0):
            return None  # an old view of the leases could show files free that are not
        grants = self._replica.get(FILE_LOCKS)
        return grants if isinstance(grants, LWWMap) else None

    def _start(self) -> None:
        if self._starter is None:
            self._starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lease-watch-start")
        replica = Replica(self._settings, self._replica_id, producer=self._producer, objects=(FILE_LOCKS,))
        self._starting = self._starter.submit(replica.start)

    def _take_started(self, now: float) -> None:
        """The replica whose start has ended, if it started; a failed start is tried again ``RETRY_START_S`` after
        ``now``, when its failure is noticed."""
        starting = self._starting
        if starting is None or not starting.done():
            return
        self._starting = None
        try:
            self._replica = starting.result()
        except Exception:  # only an optimisation rests on it: the retries wait for their backoff
            log.warning("not following the lock manager's leases; trying again in %.0fs", RETRY_START_S, exc_info=True)
            self._next_start = now + RETRY_START_S

    def close(self) -> None:
        """Stop following (a start still under way is closed once it ends)."""
        if self._starting is not None:
            self._starting.add_done_callback(lambda started: None if started.exception() else started.result().close())
            self._starting = None
        if self._replica is not None:
            self._replica.close()
            self._replica = None
        if self._starter is not None:
            self._starter.shutdown(wait=False)
            self._starter = None
