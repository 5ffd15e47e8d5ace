"""The catalogue of every event and command type: code is the source, JSON Schemas are exported from it."""

from __future__ import annotations

from shared.events.catalogue import agents, decisions, drift, gates, goals, locks, sagas, scheduling, tasks, work
from shared.events.spec import EventSpec


class UnknownEventType(KeyError):
    """A record names a type the catalogue does not know."""


def _index(*groups: tuple[EventSpec, ...]) -> dict[str, EventSpec]:
    index: dict[str, EventSpec] = {}
    for group in groups:
        for spec in group:
            if spec.type in index:
                raise ValueError(f"event type {spec.type} is catalogued twice")
            index[spec.type] = spec
    return index


CATALOGUE: dict[str, EventSpec] = _index(
    goals.SPECS,
    tasks.SPECS,
    agents.SPECS,
    work.SPECS,
    scheduling.SPECS,
    drift.SPECS,
    sagas.SPECS,
    decisions.SPECS,
    locks.SPECS,
    gates.SPECS,
)


def register(*specs: EventSpec) -> None:
    """Add types from a service's own module (used by later domains); duplicates are refused."""
    for spec in specs:
        if spec.type in CATALOGUE and CATALOGUE[spec.type] != spec:
            raise ValueError(f"event type {spec.type} is catalogued twice")
        CATALOGUE[spec.type] = spec


def spec_for(event_type: str) -> EventSpec:
    """The spec of a type; ``UnknownEventType`` with the name otherwise."""
    try:
        return CATALOGUE[event_type]
    except KeyError:
        raise UnknownEventType(f"unknown event type {event_type!r}") from None
