"""Prometheus metrics every service exports (names are the contract for dashboards and alerts)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from shared.health import start_metrics_server

EVENTS_CONSUMED = Counter("architect_events_consumed_total", "Records consumed and handled", ["group", "topic", "type"])
EVENTS_PRODUCED = Counter("architect_events_produced_total", "Events delivered to Kafka", ["topic", "type"])
PRODUCE_ERRORS = Counter("architect_produce_errors_total", "Events Kafka refused to store", ["topic"])
EVENTS_DEAD_LETTERED = Counter(
    "architect_events_dead_lettered_total",
    "Records sent to the dead-letter topic",
    ["group", "topic", "reason"],
)
HANDLER_SECONDS = Histogram(
    "architect_handler_seconds",
    "Time a handler spent on one record or batch",
    ["group", "type"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HANDLER_RETRIES = Counter("architect_handler_retries_total", "Handler attempts that failed and were retried", ["group"])
CONSUMER_LAG = Gauge("architect_consumer_lag", "High watermark minus position", ["group", "topic", "partition"])
PROJECTION_LAG_SECONDS = Gauge(
    "architect_projection_lag_seconds", "Age of the newest event applied to the read models", ["projection"]
)


def serve_metrics(port: int) -> None:
    """Expose /metrics, /healthz and /readyz on ``port`` (0 = do not serve; the gateway serves them itself)."""
    if port:
        start_metrics_server(port)


TIMERS_PENDING = Gauge("architect_scheduler_timers_pending", "Scheduled events waiting to come due")
BREAKER_OPEN = Gauge("architect_breaker_open", "1 while an agent's circuit breaker is open", ["agent"])
AGENT_STABILITY = Gauge("architect_agent_stability", "Latest stability score of an agent (1 = baseline)", ["agent"])
