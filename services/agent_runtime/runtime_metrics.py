"""Prometheus metrics of the agent runtime (names are the contract for dashboards: error rates by agent, load)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

AGENT_TASKS = Counter(
    "architect_agent_tasks_total",
    "Assignments an agent finished, by outcome and error class",
    ["agent", "outcome", "error_class"],
)
AGENT_IN_FLIGHT = Gauge("architect_agent_in_flight", "Assignments an agent is running", ["agent"])
AGENT_LEASE_WAITS = Gauge(
    "architect_agent_lease_waits", "Assignments of an agent waiting for file leases (holding no slot)", ["agent"]
)
AGENT_TOKENS_USED = Gauge("architect_agent_tokens_used", "Tokens an agent has used against its budget", ["agent"])
ASSIGNMENTS_SKIPPED = Counter(
    "architect_agent_assignments_skipped_total",
    "Assignments not run: already executed (duplicate) or older than the retention (stale)",
    ["agent", "reason"],
)
BIDS_PLACED = Counter("architect_agent_bids_total", "Bids an agent placed in auctions", ["agent"])
