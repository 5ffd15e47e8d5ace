"""The one place where old payload versions become current ones (upcast on read).

An upcaster takes the raw payload of ``(type, version)`` and returns the payload of ``version + 1``;
chains run until the catalogue's current version. Producers always write the current version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RawPayload = dict[str, Any]
Upcaster = Callable[[RawPayload], RawPayload]


def _goal_v1_to_v2(payload: RawPayload) -> RawPayload:
    """v1 called the goal's title ``description`` and had no priority."""
    upgraded = {k: v for k, v in payload.items() if k != "description"}
    upgraded.setdefault("title", payload.get("description", ""))
    upgraded.setdefault("priority", 0)
    return upgraded


def _drift_alert_v1_to_v2(payload: RawPayload) -> RawPayload:
    """v1 drift alerts and reset requests all came from the stability EMA; v2 names the reason."""
    return {**payload, "reason": "stability"}


def _saga_compensated_v1_to_v2(payload: RawPayload) -> RawPayload:
    """v1 sagas were compensated only after a step failed for good: no abort reason."""
    return {**payload, "reason": payload.get("reason", "")}


def _error_classes_v1_to_v2(payload: RawPayload) -> RawPayload:
    """v2 added the error class ``lock_conflict``; every v1 payload is a valid v2 payload as it is."""
    return dict(payload)


def _heartbeat_v1_to_v2(payload: RawPayload) -> RawPayload:
    """v1 heartbeats did not report assignments waiting for file leases: none."""
    return {**payload, "lease_waits": payload.get("lease_waits", 0)}


UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("SubmitGoal", 1): _goal_v1_to_v2,
    ("GoalSubmitted", 1): _goal_v1_to_v2,
    ("DriftAlert", 1): _drift_alert_v1_to_v2,
    ("AgentResetRequested", 1): _drift_alert_v1_to_v2,
    ("SagaCompensated", 1): _saga_compensated_v1_to_v2,
    ("TaskFailed", 1): _error_classes_v1_to_v2,
    ("TaskAbandoned", 1): _error_classes_v1_to_v2,
    ("AgentHeartbeat", 1): _heartbeat_v1_to_v2,
}


class UpcastError(ValueError):
    """An old version has no path to the current one."""


def upcast(event_type: str, version: int, payload: RawPayload, current: int) -> RawPayload:
    """Bring ``payload`` from ``version`` to ``current`` by chaining upcasters."""
    while version < current:
        step = UPCASTERS.get((event_type, version))
        if step is None:
            raise UpcastError(f"no upcaster for {event_type} v{version} (current is v{current})")
        payload = step(payload)
        version += 1
    return payload
