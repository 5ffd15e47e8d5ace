"""CRDT states on the wire, and the merged view a replica builds from them (pure: no Kafka here).

A record on ``architect.state.crdt`` is keyed ``<object>/<replica id>`` and holds one replica's whole state of
one named object: ``{"object", "replica", "type", "state"}``. Compaction keeps each replica's latest state; a
reader merges every state it sees, so order, duplicates and redelivery do not matter.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, Self

from shared.crdt.g_counter import GCounter
from shared.crdt.lww_element_set import LWWElementSet
from shared.crdt.lww_map import LWWMap
from shared.crdt.lww_register import LWWRegister
from shared.crdt.or_set import ORSet
from shared.crdt.pn_counter import PNCounter


class Crdt(Protocol):
    def merge(self, other: Any) -> Any: ...

    def to_dict(self) -> dict[str, Any]: ...


CRDT_TYPES: dict[str, Any] = {
    "GCounter": GCounter,
    "PNCounter": PNCounter,
    "LWWElementSet": LWWElementSet,
    "LWWMap": LWWMap,
    "LWWRegister": LWWRegister,
    "ORSet": ORSet,
}


class BadCrdtRecord(ValueError):
    """A record on the CRDT topic that is not a state this code can merge."""


def state_key(name: str, replica_id: str) -> bytes:
    return f"{name}/{replica_id}".encode()


def encode_state(name: str, replica_id: str, crdt: Crdt) -> tuple[bytes, bytes]:
    """Key and value of one replica's state of object ``name``."""
    kind = type(crdt).__name__
    if kind not in CRDT_TYPES:
        raise TypeError(f"{kind} is not a replicable CRDT (known: {', '.join(CRDT_TYPES)})")
    value = {"object": name, "replica": replica_id, "type": kind, "state": crdt.to_dict()}
    return state_key(name, replica_id), json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def decode_state(value: bytes) -> tuple[str, str, Any]:
    """(object name, replica id, CRDT) of a record; ``BadCrdtRecord`` says what is wrong."""
    try:
        data = json.loads(value)
        kind = CRDT_TYPES[data["type"]]
        return str(data["object"]), str(data["replica"]), kind.from_dict(data["state"])
    except Exception as error:  # whatever the bytes are, a reader gets one error it knows to skip or dead-letter
        raise BadCrdtRecord(f"not a CRDT state record: {error!r}") from error


def merged_states(name: str, current: Any, incoming: Any, source: str) -> Any:
    """``current`` joined with ``incoming`` (a state of object ``name`` from replica ``source``).

    ``BadCrdtRecord`` when they cannot merge: states of two types, or values of the right shape but the wrong kind
    (a record can decode and still hold, say, a timestamp that does not compare with ours)."""
    if current is None:
        return incoming
    if type(current) is not type(incoming):
        raise BadCrdtRecord(
            f"{name}: a {type(incoming).__name__} from {source} cannot merge into a {type(current).__name__}"
        )
    try:
        return current.merge(incoming)
    except Exception as error:
        raise BadCrdtRecord(f"{name}: the state from {source} does not merge: {error!r}") from error


@dataclass
class MergedView:
    """Every object's state merged over all replicas seen so far (and the replicas each came from)."""

    objects: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, set[str]] = field(default_factory=dict)

    def merge(self, name: str, replica_id: str, crdt: Any) -> Any:
        merged = merged_states(name, self.objects.get(name), crdt, replica_id)
        self.objects[name] = merged
        self.sources.setdefault(name, set()).add(replica_id)
        return merged

    def merge_record(self, value: bytes) -> str:
        """Merge one record's state; returns the object's name."""
        name, replica_id, crdt = decode_state(value)
        self.merge(name, replica_id, crdt)
        return name

    def get(self, name: str) -> Any:
        return self.objects.get(name)

    def canonical(self) -> Mapping[str, Any]:
        """Plain JSON of every object (for comparing views)."""
        return {name: crdt.to_dict() for name, crdt in sorted(self.objects.items())}

    def copy(self) -> Self:
        return type(self)(dict(self.objects), {k: set(v) for k, v in self.sources.items()})
