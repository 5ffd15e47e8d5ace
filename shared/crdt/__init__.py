"""Conflict-free replicated data types for state that several service replicas update concurrently.

Every type is an immutable value with ``merge(other)`` (commutative, associative, idempotent), query
methods, and ``to_dict()``/``from_dict()`` in plain JSON types.

Replication story (full state): a replica applies its updates locally, then publishes its whole
state to a compacted topic keyed by ``<crdt id>/<replica id>``. Compaction keeps each replica's latest
state; a reader merges every state it sees. Because merge is a join, order, duplicates and
redelivery do not matter, and a restarted replica rebuilds by merging the topic from the start. Any
state is also a valid delta (e.g. a G-Counter holding only the writer's own entry), so publishing
smaller deltas later needs no change to the types.

Last-writer-wins types take hybrid logical timestamps (:mod:`shared.crdt.hlc`), whose replica id
breaks ties deterministically.
"""

from shared.crdt.g_counter import GCounter
from shared.crdt.hlc import ClockDriftError, HybridClock, HybridTimestamp
from shared.crdt.lww_element_set import LWWElementSet
from shared.crdt.lww_map import LWWMap
from shared.crdt.lww_register import JsonValue, LWWRegister
from shared.crdt.or_set import ORSet
from shared.crdt.pn_counter import PNCounter

__all__ = [
    "ClockDriftError",
    "GCounter",
    "HybridClock",
    "HybridTimestamp",
    "JsonValue",
    "LWWElementSet",
    "LWWMap",
    "LWWRegister",
    "ORSet",
    "PNCounter",
]
