"""Which service wrote a record, and when a service's output resumed: the pure part of ``bench.recovery``.

A service's *output* is a record it wrote because it processed an input: an envelope with a causation id whose
``producer`` names the service (``agent-runtime/<agent>`` for the agent runtime). Registrations and heartbeats
have no cause and do not count. The scheduler publishes the events it was asked to deliver with their original
envelope (producer and all), so a record whose event id was carried by an earlier ``ScheduleEvent`` is the
scheduler's output, not its first producer's. Times are the records' Kafka timestamps (the producer's clock at
send time), in epoch seconds.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Envelope ``producer`` -> service (module name under ``services``).
PRODUCERS: Mapping[str, str] = {
    "orchestrator": "orchestrator",
    "assigner": "assigner",
    "saga-coordinator": "saga_coordinator",
    "consensus": "consensus",
    "drift-monitor": "drift_monitor",
}
AGENT_RUNTIME_PREFIX = "agent-runtime/"
SCHEDULER = "scheduler"
SCHEDULE_EVENT = "ScheduleEvent"


def producing_service(producer: str) -> str | None:
    """The service an envelope ``producer`` names, None for clients (the bench, the gateway, the CLI)."""
    if producer.startswith(AGENT_RUNTIME_PREFIX):
        return "agent_runtime"
    return PRODUCERS.get(producer)


@dataclass
class Attribution:
    """Attributes records to services; remembers the event ids the scheduler was asked to deliver."""

    scheduled: set[str] = field(default_factory=set)

    def service_of(self, envelope: Mapping[str, Any]) -> str | None:
        """The service whose processing wrote this envelope, or None when it is not a service's output."""
        event_id = str(envelope.get("event_id", ""))
        if envelope.get("type") == SCHEDULE_EVENT:
            inner = envelope.get("payload", {}).get("event", {})
            if isinstance(inner, Mapping) and inner.get("event_id"):
                self.scheduled.add(str(inner["event_id"]))
        elif event_id in self.scheduled:
            return SCHEDULER
        if envelope.get("causation_id") is None:
            return None
        return producing_service(str(envelope.get("producer", "")))


@dataclass
class OutputTimes:
    """Each service's output times, kept sorted (records arrive nearly, not exactly, in time order)."""

    times: dict[str, list[float]] = field(default_factory=dict)

    def add(self, service: str, at: float) -> None:
        bisect.insort(self.times.setdefault(service, []), at)

    def first_from(self, service: str, start: float) -> float | None:
        """The first output of ``service`` at or after ``start``."""
        times = self.times.get(service, [])
        index = bisect.bisect_left(times, start)
        return times[index] if index < len(times) else None

    def last_before(self, service: str, end: float) -> float | None:
        """The last output of ``service`` before ``end``."""
        times = self.times.get(service, [])
        index = bisect.bisect_left(times, end)
        return times[index - 1] if index > 0 else None

    def count_between(self, service: str, start: float, end: float) -> int:
        times = self.times.get(service, [])
        return bisect.bisect_left(times, end) - bisect.bisect_left(times, start)
