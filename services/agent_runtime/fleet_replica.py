"""The agent runtime's replica of the shared CRDT state, and its lock requests (Kafka plumbing).

Through one :class:`Replica` (replica id ``agent-runtime/<runtime id>``) the runtime registers its agents'
sessions in the ``active-sessions`` OR-Set, counts completed tasks per agent and per capability (G-Counters
keyed by task id: counted once) and task attempts in flight per agent (PN-Counters keyed by attempt), and reads
the lock manager's ``file-locks`` leases; it asks for and gives back leases with AcquireLock /
ReleaseLock commands keyed by path. See :mod:`shared.crdt.fleet_state` and :mod:`.file_leases`.

Counter updates are deferred: the runtime calls ``publish()`` from its tick at most once a second
(``COUNTERS_PUBLISH_EVERY_S``) and when it stops, not while it recovers (the replica has not caught up yet). The
completions, starts and ends noted since are then applied to each counter in one pass (a keyed change looks
through every key the counter remembers, up to 1024 per replica and half, so one pass per counter and second
instead of one per task and change), and each counter changed is written once with its latest state (a record
holds the whole state). Every replica, this one included, sees a count up to a second later. Called from the
runtime's loop thread only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from services.locks.lock_table import FILE_LOCKS
from shared.bus.producer import EventProducer
from shared.crdt import fleet_state
from shared.crdt.failure_streaks import FailureStreaks
from shared.crdt.lww_map import LWWMap
from shared.crdt.replica import Replica
from shared.events.catalogue.locks import AcquireLock, ReleaseLock
from shared.events.codec import new_event
from shared.settings import Settings

log = logging.getLogger(__name__)
CATCH_UP_S = 60.0
#: Publishes in a row a counter's update may fail before the changes noted for it are dropped.
MAX_UPDATE_ATTEMPTS = 5


class FleetReplica:
    def __init__(self, settings: Settings, runtime_id: str, producer: EventProducer) -> None:
        self.replica_id = f"agent-runtime/{runtime_id}"
        self.runtime_id = runtime_id
        self.producer = producer
        self.replica = Replica(settings, self.replica_id, producer=producer)
        self._sessions: dict[str, str] = {}
        #: Noted since the last ``publish()``: task ids per completed-tasks counter, attempt changes per
        #: in-flight counter.
        self._completions: dict[str, list[str]] = {}
        self._attempts: dict[str, list[fleet_state.AttemptChange]] = {}
        #: Failed updates in a row, per counter (see ``publish``).
        self._failures = FailureStreaks(MAX_UPDATE_ATTEMPTS)

    def start(self, agent_ids: Iterable[str]) -> None:
        """Follow the shared state, and once this replica's earlier writes are merged back, open the sessions."""
        self.replica.start()
        if not self.replica.wait_caught_up(CATCH_UP_S):
            log.warning("runtime %s: CRDT state not caught up within %ss", self.runtime_id, CATCH_UP_S)
        started_ms = int(time.time() * 1000)
        for agent_id in agent_ids:
            tag = fleet_state.session_tag(self.runtime_id, agent_id, started_ms)
            self.replica.update(
                fleet_state.SESSIONS, lambda s, a=agent_id, t=tag: fleet_state.session_started(s, a, t), flush=False
            )
            self._sessions[agent_id] = tag
        self.replica.flush()

    def close(self) -> None:
        """Publish the counters' changes noted, end the sessions this runtime opened, then stop following."""
        try:
            try:
                self.publish()
            except Exception:  # the sessions must still end: their records are what other replicas see of us
                log.exception("runtime %s: publishing the counters at close failed", self.runtime_id)
            left = {name: len(notes) for name, notes in (*self._completions.items(), *self._attempts.items())}
            if left:
                log.error("runtime %s: counter changes not applied at close (dropped): %s", self.runtime_id, left)
            for agent_id in list(self._sessions):
                self.replica.update(
                    fleet_state.SESSIONS, lambda s, a=agent_id: fleet_state.session_ended(s, a), flush=False
                )
            self._sessions.clear()
            self.replica.flush()
        finally:
            self.replica.close()

    def task_completed(self, agent_id: str, capability: str, task_id: str) -> None:
        """Count a succeeded task once per agent and capability, whatever reports it again."""
        for kind, name in (("agent", agent_id), ("capability", capability)):
            self._completions.setdefault(fleet_state.completed_counter(kind, name), []).append(task_id)

    def attempt_started(self, agent_id: str, task_id: str, attempt: int) -> None:
        self._note_attempt(agent_id, +1, fleet_state.attempt_key(task_id, attempt))

    def attempt_ended(self, agent_id: str, task_id: str, attempt: int) -> None:
        self._note_attempt(agent_id, -1, fleet_state.attempt_key(task_id, attempt))

    def _note_attempt(self, agent_id: str, sign: int, key: str) -> None:
        self._attempts.setdefault(fleet_state.in_flight_counter(agent_id), []).append((sign, key))

    def publish(self) -> int:
        """Apply what was noted since the last call, and publish each counter it changed (once, latest state).

        A counter whose update raises keeps its notes for the next call (the changes are keyed, so one applied
        twice counts once) while the other counters go on; after ``MAX_UPDATE_ATTEMPTS`` failures in a row its
        notes are dropped, with an error naming the counter, rather than retried forever."""
        self._apply(self._completions, lambda counter, ids: fleet_state.completed(counter, self.replica_id, ids))
        self._apply(self._attempts, lambda counter, ch: fleet_state.attempts_changed(counter, self.replica_id, ch))
        return self.replica.publish_pending()

    def _apply(self, notes: dict[str, list[Any]], change: Callable[[Any, list[Any]], Any]) -> None:
        for name in list(notes):
            noted = notes[name]
            try:
                self.replica.update(name, lambda counter, n=noted: change(counter, n), defer=True)
            except Exception:
                retry, failures = self._failures.failed(name)
                if retry:
                    log.warning(
                        "counter %s: update failed (%d of %d), kept for the next publish",
                        name,
                        failures,
                        MAX_UPDATE_ATTEMPTS,
                        exc_info=True,
                    )
                    continue
                log.error(
                    "counter %s: update failed %d times, %d changes dropped", name, failures, len(noted), exc_info=True
                )
            else:
                self._failures.succeeded(name)
            del notes[name]

    def leases(self) -> Mapping[str, Any]:
        grants = self.replica.get(FILE_LOCKS)
        return grants.items() if isinstance(grants, LWWMap) else {}

    def acquire(self, path: str, agent_id: str, request_id: str, lease_s: float, task_id: str, goal_id: str) -> None:
        payload = AcquireLock(path=path, agent_id=agent_id, request_id=request_id, lease_s=lease_s, task_id=task_id)
        self.producer.publish(
            new_event(payload, producer=f"agent-runtime/{agent_id}", stream_id=path, correlation_id=goal_id)
        )

    def release(self, path: str, agent_id: str, request_id: str, goal_id: str) -> None:
        payload = ReleaseLock(path=path, agent_id=agent_id, request_id=request_id)
        self.producer.publish(
            new_event(payload, producer=f"agent-runtime/{agent_id}", stream_id=path, correlation_id=goal_id)
        )
