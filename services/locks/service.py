"""Lock manager: decides file-edit leases in the log order of architect.locks.commands and replicates them.

A transactional ConsumerLoop reads the commands (keyed by path, so each path's commands arrive in one order);
the pure :class:`LockTable` decides; before each commit the table (its LWW map of leases and its clock) is
written to ``architect.state.crdt`` as the ``file-locks`` object of replica ``lock-manager``, in the same Kafka
transaction as the consumed offsets. So the replicated leases never run ahead of or behind the commands
decided, and after a crash the manager reloads its last committed table and re-reads what followed.
Readers hold a :class:`shared.crdt.replica.Replica` and look up ``file-locks``.
"""

from __future__ import annotations

import logging

from services.locks.lock_table import FILE_LOCKS, LockTable
from shared.bus.consumer import ConsumerLoop, Delivery
from shared.bus.producer import EventProducer
from shared.bus.reader import read_to_end
from shared.bus.topics import LOCKS_COMMANDS, STATE_CRDT
from shared.crdt.hlc import HybridClock
from shared.crdt.lww_map import LWWMap
from shared.crdt.replication import BadCrdtRecord, decode_state, encode_state, state_key
from shared.settings import Settings

log = logging.getLogger(__name__)
GROUP = "architect-lock-manager"
REPLICA_ID = "lock-manager"


class LockManager:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer = EventProducer(settings, client_id="lock-manager", transactional_id=GROUP)
        self.table = LockTable(clock=HybridClock(REPLICA_ID))
        self.dirty = False
        self.loop = ConsumerLoop(
            settings,
            group_id=GROUP,
            topics=[LOCKS_COMMANDS],
            producer=self.producer,
            handler=self.handle,
            before_commit=self.save,
            on_abort=self.load,
            poll_timeout=0.05,
        )

    def load(self) -> None:
        """The last committed leases (this manager's own state on the CRDT topic), or none."""
        grants, wanted = LWWMap(), state_key(FILE_LOCKS, REPLICA_ID)
        for record in read_to_end(self.settings, [STATE_CRDT]):
            if record.key == wanted and record.value is not None:
                try:
                    grants = decode_state(record.value)[2]
                except BadCrdtRecord as error:
                    log.error("lock manager: ignoring an unreadable state record: %s", error)
        self.table, self.dirty = LockTable.restore(grants, REPLICA_ID), False

    def handle(self, delivery: Delivery) -> None:
        event = delivery.envelope
        p = event.payload
        at = event.occurred_at.timestamp()
        if event.type == "AcquireLock":
            self.table, decision = self.table.acquire(p.path, p.agent_id, p.request_id, p.lease_s, at, p.task_id)
        elif event.type == "ReleaseLock":
            self.table, decision = self.table.release(p.path, p.agent_id, p.request_id, at)
        else:
            return
        self.dirty = True
        log.info("lock %s: %s for %s (%s)", decision.path, decision.outcome, decision.agent_id, decision.request_id)

    def save(self) -> None:
        """Replicate the leases: for readers, and for this manager's restart."""
        if not self.dirty:
            return
        key, value = encode_state(FILE_LOCKS, REPLICA_ID, self.table.grants)
        self.producer.publish_raw(STATE_CRDT, key, value, event_type="crdt")
        self.dirty = False

    def run(self) -> None:
        self.load()
        self.loop.run()

    def stop(self) -> None:
        self.loop.stop()
