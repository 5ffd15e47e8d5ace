"""The fleet's shared state as CRDT objects on ``architect.state.crdt`` (names and pure updates; no Kafka here).

- ``active-sessions``: an OR-Set of hosted agent sessions; the element is the agent id, each session of it a tag
  ``<runtime>/<agent>/<started ms>``. A runtime adds a session when it starts hosting an agent (after removing
  the tags it observed for that agent, so a session left behind by a crash does not linger) and removes it when
  it stops. Add-wins: a session started concurrently with another replica's removal stays.
- ``tasks-completed/agent/<agent id>`` and ``tasks-completed/capability/<capability>``: G-Counters, one entry
  per runtime replica, incremented when a task succeeds.
- ``file-locks``: the lock manager's LWW map of leases (see ``services/locks``).
"""

from __future__ import annotations

from shared.crdt.g_counter import GCounter
from shared.crdt.or_set import ORSet

SESSIONS = "active-sessions"
COMPLETED_PREFIX = "tasks-completed/"
COUNTER_KINDS = ("agent", "capability")


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


def incremented(counter: GCounter | None, replica_id: str, amount: int = 1) -> GCounter:
    return (counter or GCounter()).increment(replica_id, amount)
