"""Track records as replicated CRDT state: how often each agent's judged calls were right.

Per agent two G-Counters, ``track-record/<agent>/correct`` and ``track-record/<agent>/total``, whose entries are
keyed by decision id (one unit per judged decision) rather than by replica: recording the same judgement again
(a redelivery, a replay after a crash) merges to the same state, so nothing is counted twice, and any number of
engine instances can record judgements concurrently. Weights come from these records when a decision opens
(and are stored in it, so a replay never depends on records that changed since).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from services.consensus.track_record import TrackRecord
from shared.crdt.g_counter import GCounter

#: The prefix of every track-record object's name.
TRACK_RECORD_PREFIX = "track-record/"


def correct_key(agent: str) -> str:
    return f"{TRACK_RECORD_PREFIX}{agent}/correct"


def total_key(agent: str) -> str:
    return f"{TRACK_RECORD_PREFIX}{agent}/total"


def judged(decision_id: str) -> GCounter:
    """One unit, owned by the judged decision."""
    return GCounter({decision_id: 1})


Update = Callable[[str, Callable[[Any], Any]], Any]
Lookup = Callable[[str], Any]


def record_verdicts(update: Update, decision_id: str, verdicts: Mapping[str, bool]) -> None:
    """Apply a decision's verdicts through ``update(name, change)`` (e.g. ``Replica.update``); idempotent."""
    unit = judged(decision_id)
    for agent, correct in sorted(verdicts.items()):
        update(total_key(agent), lambda counter: unit if counter is None else counter.merge(unit))
        if correct:
            update(correct_key(agent), lambda counter: unit if counter is None else counter.merge(unit))


def track_records(get: Lookup, agents: Iterable[str]) -> dict[str, TrackRecord]:
    """The records of ``agents`` that have any judged call (others get the no-history weight)."""
    records: dict[str, TrackRecord] = {}
    for agent in agents:
        total, correct = get(total_key(agent)), get(correct_key(agent))
        if total is not None and total.value:
            records[agent] = TrackRecord(min(correct.value if correct else 0, total.value), total.value)
    return records
