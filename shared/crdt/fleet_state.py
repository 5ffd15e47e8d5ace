"""The fleet's shared state as CRDT objects on ``architect.state.crdt`` (names and pure updates; no Kafka here).

- ``active-sessions``: an OR-Set of hosted agent sessions; the element is the agent id, each session of it a tag
  ``<runtime>/<agent>/<started ms>``. A runtime adds a session when it starts hosting an agent (after removing
  the tags it observed for that agent, so a session left behind by a crash does not linger) and removes it when
  it stops. Add-wins: a session started concurrently with another replica's removal stays.
- ``tasks-completed/agent/<agent id>`` and ``tasks-completed/capability/<capability>``: G-Counters, one entry
  per runtime replica, incremented when a task succeeds, keyed by the task id (a task reported again after a
  runtime crash, or retried after its success was counted, counts once).
- ``tasks-in-flight/agent/<agent id>``: PN-Counters, +1 when one of the agent's task attempts starts, -1 when it
  ends (succeeded, failed, timed out, or reported interrupted after a crash), both keyed by
  ``<task id>/<attempt>`` so a repeated start or finish counts once and a finish whose start was never counted
  changes nothing.
- ``file-locks``: the lock manager's LWW map of leases (see ``services/locks``).
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.crdt.g_counter import GCounter
from shared.crdt.or_set import ORSet
from shared.crdt.pn_counter import PNCounter

SESSIONS = "active-sessions"
COMPLETED_PREFIX = "tasks-completed/"
COUNTER_KINDS = ("agent", "capability")
IN_FLIGHT_PREFIX = "tasks-in-flight/agent/"


def session_tag(runtime_id: str, agent_id: str, started_ms: int) -> str:
    return f"{runtime_id}/{agent_id}/{started_ms}"


def parse_session_tag(tag: str) -> tuple[str, int | None]:
    """(runtime id, started ms) of a tag (best effort: ``("", None)`` for a tag of another shape)."""
    runtime, _, rest = tag.partition("/")
    _, _, started = rest.rpartition("/")
    return runtime, int(started) if started.isdigit() else None


def session_started(sessions: ORSet | None, agent_id: str, tag: str) -> ORSet:
    """The registry with ``agent_id``'s earlier sessions (the ones observed) replaced by the session ``tag``."""
    return (sessions or ORSet()).remove(agent_id).add(agent_id, tag)


def session_ended(sessions: ORSet | None, agent_id: str) -> ORSet:
    return (sessions or ORSet()).remove(agent_id)


def completed_counter(kind: str, name: str) -> str:
    """The object counting completed tasks of one agent or one capability."""
    if kind not in COUNTER_KINDS:
        raise ValueError(f"counter kind must be one of {COUNTER_KINDS}, not {kind!r}")
    return f"{COMPLETED_PREFIX}{kind}/{name}"


def parse_counter(object_name: str) -> tuple[str, str] | None:
    """(kind, name) of a completed-tasks counter object, or None for any other object."""
    if not object_name.startswith(COMPLETED_PREFIX):
        return None
    kind, _, name = object_name[len(COMPLETED_PREFIX) :].partition("/")
    return (kind, name) if kind in COUNTER_KINDS and name else None


def incremented(counter: GCounter | None, replica_id: str, amount: int = 1, key: str | None = None) -> GCounter:
    return (counter or GCounter()).increment(replica_id, amount, key)


def completed(counter: GCounter | None, replica_id: str, task_ids: Iterable[str]) -> GCounter:
    """A completed-tasks counter with each of ``task_ids`` counted once (see `GCounter.increment_keys`)."""
    return (counter or GCounter()).increment_keys(replica_id, task_ids)


def in_flight_counter(agent_id: str) -> str:
    """The object counting an agent's task attempts in flight."""
    return f"{IN_FLIGHT_PREFIX}{agent_id}"


def parse_in_flight(object_name: str) -> str | None:
    """The agent id of an in-flight counter object, or None for any other object."""
    agent_id = object_name.removeprefix(IN_FLIGHT_PREFIX)
    return agent_id if object_name.startswith(IN_FLIGHT_PREFIX) and agent_id else None


def attempt_key(task_id: str, attempt: int) -> str:
    return f"{task_id}/{attempt}"


def attempt_started(counter: PNCounter | None, replica_id: str, key: str) -> PNCounter:
    return (counter or PNCounter()).increment(replica_id, key=key)


def attempt_ended(counter: PNCounter | None, replica_id: str, key: str) -> PNCounter:
    return (counter or PNCounter()).decrement(replica_id, key=key)


#: An attempt's start (+1) or end (-1), by its `attempt_key`.
AttemptChange = tuple[int, str]


def attempts_changed(counter: PNCounter | None, replica_id: str, changes: Iterable[AttemptChange]) -> PNCounter:
    """An in-flight counter with starts and ends applied in order, as `attempt_started` / `attempt_ended` would."""
    return (counter or PNCounter()).apply_keyed(replica_id, changes)
