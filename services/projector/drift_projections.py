"""Drift read models: ``agent_drift`` (each agent's latest stability and status) and ``drift_alerts`` (history).

Every column is written from ``architect.drift.events`` only. An agent's status follows its drift episode:
``baselining`` until its baseline is complete (again after a reset), then ``stable``, ``alerting`` after a
``DriftAlert``, ``resetting`` after a reset request, back to ``baselining`` once reset and ``stable`` once
recovered. Coordination drift concerns the fleet and is recorded under agent id ``fleet``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from shared.events.catalogue.drift import FLEET_STREAM
from shared.events.envelope import Envelope

if TYPE_CHECKING:
    from services.projector.projections import RowChange

Projector = Callable[[Envelope[Any]], Iterable["RowChange"]]

DRIFT_TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "agent_drift": (
        ("agent_id",),
        (
            "agent_id",
            "role",
            "status",
            "stability",
            "drift",
            "semantic",
            "format",
            "tools",
            "memory",
            "interaction",
            "anchors",
            "baseline_size",
            "last_alert_at",
            "last_reset_at",
            "last_consolidated_at",
            "updated_at",
        ),
    ),
    "drift_alerts": (
        ("event_id",),
        ("event_id", "agent_id", "kind", "interaction", "stability", "drift", "threshold", "details", "at"),
    ),
}
DRIFT_JSON_COLUMNS = {"details"}


def _row(table: str, key: tuple[Any, ...], columns: dict[str, Any]) -> RowChange:
    # Imported here: projections.py registers this module's tables at its end, so a top-level import would cycle.
    from services.projector.projections import RowChange

    return RowChange(table, key, columns)


def _agent(e: Envelope[Any], agent_id: str | None = None, **columns: Any) -> RowChange:
    return _row("agent_drift", (agent_id or e.payload.agent_id,), {"updated_at": e.occurred_at, **columns})


def _history(e: Envelope[Any], kind: str, agent_id: str | None = None, **columns: Any) -> RowChange:
    p = e.payload
    return _row(
        "drift_alerts",
        (str(e.event_id),),
        {
            "agent_id": agent_id or p.agent_id,
            "kind": kind,
            "interaction": getattr(p, "interaction", None),
            "stability": getattr(p, "stability", None),
            "at": e.occurred_at,
            **columns,
        },
    )


def _baseline(e: Envelope[Any]) -> Iterable[RowChange]:
    p = e.payload
    yield _agent(e, role=p.role, status="stable", interaction=p.interaction, baseline_size=p.size, stability=1.0)


def _scored(e: Envelope[Any]) -> Iterable[RowChange]:
    p = e.payload
    yield _agent(
        e,
        role=p.role,
        stability=p.stability,
        drift=p.drift,
        semantic=p.semantic,
        format=p.format,
        tools=p.tools,
        memory=p.memory,
        interaction=p.interaction,
        anchors=len(p.anchors),
    )


def _alert(e: Envelope[Any]) -> Iterable[RowChange]:
    p = e.payload
    yield _agent(e, status="alerting", last_alert_at=e.occurred_at)
    details = {"reason": p.reason}
    if p.reason == "cusum":
        details |= {"component": p.component, "statistic": p.statistic, "limit": p.limit}
    yield _history(e, "alert", drift=p.drift, threshold=p.threshold, details=details)


def _reset_requested(e: Envelope[Any]) -> Iterable[RowChange]:
    yield _agent(e, status="resetting")
    p = e.payload
    details = {"reason": p.reason} if p.component is None else {"reason": p.reason, "component": p.component}
    yield _history(e, "reset_requested", threshold=p.threshold, details=details)


def _reset(e: Envelope[Any]) -> Iterable[RowChange]:
    yield _agent(
        e, status="baselining", stability=1.0, drift=0.0, interaction=0, anchors=0, last_reset_at=e.occurred_at
    )
    yield _history(e, "reset", details={"reason": e.payload.reason})


def _recovered(e: Envelope[Any]) -> Iterable[RowChange]:
    yield _agent(e, status="stable", stability=e.payload.stability)
    yield _history(e, "recovered")


def _consolidated(e: Envelope[Any]) -> Iterable[RowChange]:
    p = e.payload
    yield _agent(e, last_consolidated_at=e.occurred_at)
    yield _history(e, "consolidated", interaction=p.through, details={"kept": p.kept, "summary": p.summary})


def _coordination(e: Envelope[Any]) -> Iterable[RowChange]:
    p = e.payload
    details = {"kind": p.kind, "subject": p.subject, **p.details}
    yield _history(e, "coordination", agent_id=FLEET_STREAM, details=details)


DRIFT_PROJECTORS: dict[str, Projector] = {
    "BaselineEstablished": _baseline,
    "StabilityScored": _scored,
    "DriftAlert": _alert,
    "AgentResetRequested": _reset_requested,
    "AgentReset": _reset,
    "DriftRecovered": _recovered,
    "ConsolidationApplied": _consolidated,
    "CoordinationDriftDetected": _coordination,
}
