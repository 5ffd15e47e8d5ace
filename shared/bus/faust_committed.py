"""faust-streaming reading committed records only, and committing its offsets past transaction markers.

Several topics faust services read are written in Kafka transactions (the assigner's task events, and the task
replies it copies to the saga coordinator's and consensus engine's command topics). faust has no setting for the
consumer's isolation level: it reads ``read_committed`` only under ``processing_guarantee="exactly_once"``,
which also makes its own producer transactional (one per partition) and commits through it. Read
``read_uncommitted``, a faust service would act on events of transactions that are later aborted (the producer
then re-sends them, in a new transaction).

Offsets: a transaction's commit or abort marker takes an offset of its own, and faust never sees it, so a topic
written in transactions has a gap after each transaction. faust records such gaps so that its committed offset
can move past them, but faust-streaming 0.15 records the record right after the gap as part of the gap, beside
that record's own acknowledgement; the duplicate ends the run of consecutive offsets ``_new_offset`` looks for,
so each commit moved past one gap only: one transaction per commit interval (2.8 s), far fewer than the topic
gets, and the committed offsets fell further behind for as long as the service ran (a restarted service then
re-read all of that; nothing was lost, inputs are de-duplicated). ``CommittedConsumer`` records the gap without
the record after it.

Fetching: aiokafka keeps one fetch request in flight per broker and never includes a partition whose fetched
records the app has not taken yet: for 0.1 s it sends no fetch to that broker at all, then one without that
partition. That request waits until one of the other partitions gets a record, up to the ``fetch_max_wait_ms``
faust sets, 1.5 s, and the partition left out is fetched again only after it. A service reading a busy topic beside
quiet ones (the orchestrator: task events beside goal commands, agent events and saga events) took in its busy
partition at the pace records came on the quiet ones: ~800 task events a second, as fast as agent heartbeats
arrived, and it was ~150,000 records behind after 45 s at ~650 tasks/s. ``CommittedConsumerThread`` makes fetches
wait at most ``FETCH_MAX_WAIT_MS``: the same drain then ran at ~2,500-3,000 records a second; an idle app sends
about 20 fetch requests a second per broker instead of one every 1.5 s. (faust's client-only consumer, for
``App.start_client``, is not built here: no service runs faust that way.)

What stays behind: the marker of the last transaction of a partition (and an aborted tail) lies after the last
record faust handled, so the committed offset stops just before it until the next record arrives: a lag of one
marker (or the aborted records) per partition, which a restarted consumer reads past without handling anything.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

READ_COMMITTED = "read_committed"
#: The longest the broker holds a faust consumer's fetch for records to arrive (faust's own: 1,500 ms).
FETCH_MAX_WAIT_MS = 50


class CommittedConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """faust's aiokafka consumer thread with a ``read_committed`` consumer whose fetches wait ``FETCH_MAX_WAIT_MS``."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        if not hasattr(consumer, "_isolation_level"):  # an aiokafka that names it otherwise: fail, never read dirty
            raise RuntimeError("cannot set the faust consumer's isolation level on this aiokafka version")
        # aiokafka hands the level to its fetcher when the consumer starts; faust creates it unstarted.
        consumer._isolation_level = READ_COMMITTED
        if not hasattr(consumer, "_fetch_max_wait_ms"):
            raise RuntimeError("cannot set the faust consumer's fetch wait on this aiokafka version")
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # handed to its fetcher at start, as the isolation level
        return consumer

    async def refresh_metadata(self) -> None:
        """Fetch the cluster metadata now (aiokafka otherwise waits for ``consumer_metadata_max_age``, 5
        minutes); runs in the consumer's thread, where its client lives."""
        await self.call_thread(self._refresh_metadata)

    async def _refresh_metadata(self) -> None:
        await self._ensure_consumer()._client.force_metadata_update()


class CommittedConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer: committed records only, and gaps recorded without the record after them."""

    def _new_consumer_thread(self) -> CommittedConsumerThread:
        return CommittedConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        # faust calls this with ``offset_to`` the offset of the record that follows the gap; that record is
        # acknowledged on its own once handled, so the gap ends just before it.
        await super()._add_gap(tp, offset_from, offset_to - 1)


class CommittedTransport(faust_aiokafka.Transport):
    Consumer = CommittedConsumer


async def refresh_metadata(app: faust.App) -> None:
    """Make ``app``'s consumer fetch the cluster metadata now: a topic created after its last fetch (a table's
    changelog, made by faust as the app started) is missing from it until then, and faust takes the missing
    changelog for one of 0 partitions (``PartitionsMismatch``). The leader's metadata snapshot follows the
    fetch at once. Does nothing for another consumer class."""
    thread = getattr(app.consumer, "_thread", None)
    if isinstance(thread, CommittedConsumerThread):
        await thread.refresh_metadata()


class App(faust.App):
    """A faust app whose worker consumer is ``CommittedConsumer`` (its producer is faust's own)."""

    def _new_transport(self) -> Any:
        return CommittedTransport(self.conf.broker_consumer, self)
