"""Whether an agent's report about a task may become a fact: it must come from the agent the attempt is assigned
to, under that agent's identity. Pure: the plumbing computes the signature verdict and looks the task up.

A rejected report is dead-lettered with the reason and never reaches ``architect.tasks.events``, so no consumer
(orchestrator, projector, sagas, consensus, drift monitor) can act on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.assigner.task_book import TrackedTask
from shared.agent_identity import REPORT_TYPES, SignatureVerdict, producer_name
from shared.events.envelope import Envelope


@dataclass(frozen=True)
class Rejection:
    """Why a report is refused: a short ``reason`` (the dead letter's reason header) and a sentence."""

    reason: str
    error: str


def check_report(envelope: Envelope[Any], task: TrackedTask | None, signature: SignatureVerdict) -> Rejection | None:
    """None when the report may be applied and published; otherwise why not."""
    if envelope.type not in REPORT_TYPES:
        return Rejection(
            "unexpected_report", f"{envelope.type} is not an agent report ({', '.join(sorted(REPORT_TYPES))})"
        )
    p = envelope.payload
    claimed = p.agent_id
    subject = f"{envelope.type} of {p.task_id} attempt {p.attempt}"
    if envelope.producer != producer_name(claimed):
        return Rejection(
            "identity_mismatch", f"{subject} names agent {claimed!r} but was produced by {envelope.producer!r}"
        )
    if signature == "missing":
        return Rejection("unsigned_report", f"{subject} claims agent {claimed!r} without the agent's signature")
    if signature == "invalid":
        return Rejection("bad_signature", f"{subject} claims agent {claimed!r} but is not signed with its credential")
    if task is None:
        return Rejection("unknown_task", f"{subject} from {claimed!r}: the task has no open assignment")
    holder = task.holder_of(p.attempt)
    if holder is None:
        return Rejection("not_assigned", f"{subject} from {claimed!r}: that attempt was never assigned")
    if holder != claimed:
        return Rejection("wrong_agent", f"{subject} from {claimed!r}, but the attempt is assigned to {holder!r}")
    return None
