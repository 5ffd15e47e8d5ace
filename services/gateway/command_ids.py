"""Ids of the commands the gateway publishes, derived from an ``Idempotency-Key`` when the client sends one.

A 503 means Kafka did not confirm in time, not that the command is lost: the client retries with the same key,
the retry carries the same event id (and the same generated goal id), and consumers drop the copy by event id.
"""

from __future__ import annotations

import uuid

#: Namespace of event ids derived from idempotency keys.
IDEMPOTENCY_NAMESPACE = uuid.UUID("9d7f3c52-1e0b-4c8e-a6f4-2b8e5d0c7a31")


def command_event_id(caller: str, operation: str, idempotency_key: str | None, *, fresh: uuid.UUID) -> uuid.UUID:
    """The event id of a command: ``fresh`` without a key, else the same id for every retry of one request.

    The caller and the operation are part of the derivation, so two callers (or two endpoints) reusing a key
    never collide.
    """
    if idempotency_key is None:
        return fresh
    return uuid.uuid5(IDEMPOTENCY_NAMESPACE, "\x1f".join((caller, operation, idempotency_key)))


def generated_goal_id(event_id: uuid.UUID) -> str:
    """The goal id of a submission that named none: follows its event id, so a retry names the same goal."""
    return f"goal-{event_id.hex}"
