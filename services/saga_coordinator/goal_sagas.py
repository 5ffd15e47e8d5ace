"""A goal's sagas, so that cancelling the goal aborts them.

Saga records are keyed by saga id and GoalCancelled by goal id, so they live in different partitions and a faust
table may only be written in the partition of the record being handled. The coordinator therefore keeps a
second table, keyed by goal id and fed by ``architect.goals.events`` only: each saga it starts for a goal is
announced there (``GoalSagaStarted``, written when the saga starts), next to the goal's own events. In that one
ordered stream:

- ``GoalSagaStarted`` adds the saga to the goal's entry; if the goal was already cancelled (the coordinator
  started the saga late), the saga is aborted at once;
- ``GoalCancelled`` marks the entry cancelled and aborts every saga in it;
- ``GoalCompleted`` and ``GoalFailed`` drop the entry (the goal will start no more sagas).

An abort is an ``AbortSaga`` command keyed by the saga, so its own record decides it; its id depends only on the
saga, so a replay (or the announcement arriving twice) sends the very same command, which the saga ignores once
it is aborting. What is sent depends only on the stored entry and the input, never on whether it was sent
before, so a crash between the send and the offset commit loses nothing. Pure: entry and envelope in, entry
and envelopes out.

Entries of cancelled goals are kept (one short list each): a saga announced after its goal was cancelled is
still aborted, however late.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.saga_coordinator.coordinator import PRODUCER, stable_id
from shared.events.catalogue.sagas import AbortSaga
from shared.events.codec import new_event
from shared.events.envelope import Envelope

CANCELLED = "goal cancelled"
#: The goal events this table follows; the rest of the topic is skipped before decoding.
GOAL_TYPES = frozenset({"GoalSagaStarted", "GoalCancelled", "GoalCompleted", "GoalFailed"})


@dataclass
class GoalDecision:
    record: dict[str, Any] | None
    """The goal's new entry; None: no entry (drop it if there was one)."""
    emit: list[Envelope[Any]] = field(default_factory=list)


def abort_reason(cancel_reason: str) -> str:
    return f"{CANCELLED}: {cancel_reason}" if cancel_reason else CANCELLED


def decide_goal(stored: Mapping[str, Any] | None, event: Envelope[Any]) -> GoalDecision:
    """Apply one goal event to the goal's entry (``{"sagas": [...], "cancelled": reason or None}``)."""
    current = dict(stored) if stored else None
    if event.type in ("GoalCompleted", "GoalFailed"):
        return GoalDecision(None)
    if event.type not in ("GoalSagaStarted", "GoalCancelled"):
        return GoalDecision(current)
    known = current or {}
    entry: dict[str, Any] = {"sagas": list(known.get("sagas", [])), "cancelled": known.get("cancelled")}
    p = event.payload
    if event.type == "GoalSagaStarted":
        if p.saga_id not in entry["sagas"]:
            entry["sagas"].append(p.saga_id)
        aborted = [p.saga_id] if entry["cancelled"] is not None else []
    else:
        entry["cancelled"] = abort_reason(p.reason)
        aborted = list(entry["sagas"])
    return GoalDecision(entry, [_abort(event, saga_id, entry["cancelled"]) for saga_id in aborted])


def _abort(cause: Envelope[Any], saga_id: str, reason: str) -> Envelope[Any]:
    return new_event(
        AbortSaga(saga_id=saga_id, reason=reason, requested_by=PRODUCER),
        producer=PRODUCER,
        stream_id=saga_id,
        correlation_id=saga_id,
        causation_id=cause.event_id,
        event_id=stable_id(saga_id, "abort"),
    )
