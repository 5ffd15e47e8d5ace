"""Committing a transaction on a helper thread while the next batches are handled.

A transactional loop spends most of its time waiting for commits: at 100 tasks/s the assigner's commit (the
produce request, then EndTxn) took 10 ms at p50 and 42 ms at p99, against 3 ms of handling, and a record that
arrived meanwhile waited for it. With ``BackgroundCommit`` the loop hands the commit to a helper thread and
goes on with the next batches. What they publish is held by the producer (``EventProducer.hold``); once the
commit in flight is through (``in_flight`` is False), the loop begins the next transaction with everything held
since, produces it and hands that commit over in turn. So transactions still commit one at a time and in the
order they were made, a record's outputs reach the log only after those of every record before it, and under
load one transaction carries several batches.

A commit that fails is raised at the next ``commit``, with the batches after it handled in memory only (or seen
by ``failure`` at an idle poll): the loop aborts, reloads its state as committed and re-reads from its stored
positions, which go back to the failed commit's first records. Nothing of any of them is visible. A transaction that
cannot begin (a client renewed after a broker restart that cannot reach it yet) raises ``CannotBegin`` with the
batch's records still held: the loop tries again a moment later, with nothing to abort or reload.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from contextlib import suppress

from confluent_kafka import KafkaException

from shared.bus.producer import DeliveryError, EventProducer


class CannotBegin(KafkaException):
    """The next transaction could not begin yet; what the batch published is still held (call ``commit`` again)."""


class BackgroundCommit:
    """One transactional producer's commits, each on a helper thread while its caller goes on."""

    def __init__(self, producer: EventProducer) -> None:
        if not producer.transactional:
            raise ValueError("background commits need a transactional producer")
        self._producer = producer
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="txn-commit")
        self._pending: Future[None] | None = None
        self._open = False  # a transaction has begun and is not known committed or aborted

    def start_batch(self) -> None:
        """From now on what is published is held for this batch's transaction."""
        self._producer.hold()

    def commit(self) -> None:
        """Once the previous commit is through (raising its error if it failed), begin a transaction, produce what
        the batches since published and start committing it on the helper thread."""
        self.wait()
        try:
            self._producer.begin()
        except KafkaException as exc:
            raise CannotBegin(*exc.args) from exc
        self._open = True
        self._producer.release_held()
        self._pending = self._executor.submit(self._commit)

    def _commit(self) -> None:
        try:
            self._producer.commit()
        except DeliveryError:
            self._open = False  # committed; delivery reports failed after all (it is raised all the same)
            raise
        self._open = False

    def wait(self) -> None:
        """Wait for the commit in flight, if any; raises its error."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def in_flight(self) -> bool:
        """Whether a commit is still running on the helper thread."""
        return self._pending is not None and not self._pending.done()

    def failure(self) -> BaseException | None:
        """The error of the commit in flight if it has failed already (the next ``commit`` raises it too)."""
        pending = self._pending
        return pending.exception() if pending is not None and pending.done() else None

    def settle(self) -> None:
        """Wait for the commit in flight without taking its outcome (``commit`` or ``abort`` still raise/see it):
        before partitions are revoked, so that their next owner reads what this one committed."""
        if self._pending is not None:
            wait_for([self._pending])

    def abort(self) -> None:
        """After a failure: wait for the commit in flight, abort the transaction that failed or is still open, and
        drop what the batch held."""
        self._producer.drop_held()
        with suppress(Exception):  # a failed commit is aborted below; the caller logs what made it abort
            self.wait()
        self._abort_open()

    def close(self) -> None:
        """Wait for the last commit and stop the helper thread; a last commit that failed is aborted (so that its
        open transaction does not hold back read_committed readers) and its error raised."""
        self._producer.drop_held()
        try:
            self.wait()
        except Exception:
            self._abort_open()
            raise
        finally:
            self._executor.shutdown(wait=True)

    def _abort_open(self) -> None:
        """Abort the transaction that failed or is still open, if one is."""
        if self._open:
            self._open = False
            self._producer.abort()
