"""OpenTelemetry set-up and W3C trace context carried in Kafka headers.

The exporter follows the standard variables: ``OTEL_TRACES_EXPORTER`` = ``otlp`` (default when
``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set), ``console`` or ``none``;
``OTEL_SERVICE_NAME`` overrides the service name. Tests install an in-memory exporter with ``install_provider``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagators.textmap import Getter, Setter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

Headers = list[tuple[str, bytes]]
TRACER_NAME = "architect"
_propagator = TraceContextTextMapPropagator()


class _HeaderSetter(Setter[Headers]):
    def set(self, carrier: Headers, key: str, value: str) -> None:
        carrier[:] = [(k, v) for k, v in carrier if k != key]
        carrier.append((key, value.encode()))


class _HeaderGetter(Getter[Sequence[tuple[str, bytes | None]]]):
    def get(self, carrier: Sequence[tuple[str, bytes | None]], key: str) -> list[str] | None:
        values = [v.decode(errors="replace") for k, v in carrier if k == key and v is not None]
        return values or None

    def keys(self, carrier: Sequence[tuple[str, bytes | None]]) -> list[str]:
        return [k for k, _ in carrier]


def configure_tracing(service_name: str) -> SdkTracerProvider | None:
    """Install a tracer provider whose exporter the OTEL_* environment chooses; None when tracing is off."""
    exporter = _exporter_from_environment()
    if exporter is None:
        return None
    provider = SdkTracerProvider(
        resource=Resource.create({"service.name": os.getenv("OTEL_SERVICE_NAME", service_name)})
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


def install_provider(provider: SdkTracerProvider) -> None:
    """Use an explicit provider (tests: one with an in-memory exporter)."""
    trace.set_tracer_provider(provider)


def _exporter_from_environment() -> SpanExporter | None:
    choice = os.getenv("OTEL_TRACES_EXPORTER")
    if choice is None:
        has_endpoint = os.getenv("OTEL_EXPORTER_OTLP_ENDPOINT") or os.getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        choice = "otlp" if has_endpoint else "none"
    choice = choice.split(",")[0].strip().lower()
    if choice == "none":
        return None
    if choice == "console":
        return ConsoleSpanExporter()
    if choice == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    raise ValueError(f"OTEL_TRACES_EXPORTER={choice!r} is not supported (use otlp, console or none)")


_tracer: trace.Tracer | None = None


def tracer() -> trace.Tracer:
    """Architect's tracer, looked up once: with no provider installed the lookup reads ``os.environ`` each time
    (a few % of a busy service), and the proxy tracer it returns then follows a provider installed later."""
    global _tracer
    if _tracer is None:
        _tracer = trace.get_tracer(TRACER_NAME)
    return _tracer


def inject(headers: Headers) -> None:
    """Write the current span's ``traceparent``/``tracestate`` into Kafka headers."""
    _propagator.inject(headers, setter=_HeaderSetter())


def extract(headers: Sequence[tuple[str, bytes | None]] | None) -> otel_context.Context:
    """The remote context a record's headers carry (an empty context when there is none)."""
    return _propagator.extract(list(headers or []), getter=_HeaderGetter())


def event_attributes(envelope: Any, topic: str) -> dict[str, str]:
    """Span attributes naming an event: its type, id, causation and correlation."""
    return {
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "architect.event.type": envelope.type,
        "architect.event.id": str(envelope.event_id),
        "architect.event.causation_id": str(envelope.causation_id or ""),
        "architect.event.correlation_id": envelope.correlation_id,
    }


@contextmanager
def consume_span(
    topic: str,
    headers: Sequence[tuple[str, bytes | None]] | None,
    name: str,
    attributes: dict[str, str] | None = None,
    *,
    envelope: Any = None,
) -> Iterator[Span]:
    """A CONSUMER span whose parent is the producer's span from the record headers (attributes: ``attributes``,
    else those naming ``envelope``, else the topic).

    With tracing off no span is built: the producer's context is only made current, so what is published inside
    still names it as its parent, as the no-op tracer would do at many times the cost."""
    if not enabled():
        with _current(extract(headers)):
            yield trace.get_current_span()
        return
    if attributes is None:
        attributes = (
            event_attributes(envelope, topic) if envelope is not None else {"messaging.destination.name": topic}
        )
    with tracer().start_as_current_span(
        name, context=extract(headers), kind=SpanKind.CONSUMER, attributes=attributes
    ) as span:
        yield span


@contextmanager
def produce_span(envelope: Any, topic: str) -> Iterator[None]:
    """A PRODUCER span around publishing ``envelope`` to ``topic``; inject inside it. With tracing off no span is
    built, and the current context (a consumed record's, say) is what gets injected."""
    if not enabled():
        yield
        return
    with tracer().start_as_current_span(
        f"publish {envelope.type}", kind=SpanKind.PRODUCER, attributes=event_attributes(envelope, topic)
    ):
        yield


def enabled() -> bool:
    """Whether spans are recorded (an SDK provider is installed), so hot loops can skip building them."""
    return isinstance(trace.get_tracer_provider(), SdkTracerProvider)


def record_batch_spans(deliveries: Sequence[Any], name: str, start_ns: int, end_ns: int) -> None:
    """One CONSUMER span per event of a batch applied as a whole (the projector's transactions), each the child
    of its record's producer span and lasting the batch's ``start_ns``..``end_ns``. ``deliveries`` have
    ``envelope`` and ``record``; nothing is built when tracing is off."""
    if not enabled():
        return
    for delivery in deliveries:
        envelope, record = delivery.envelope, delivery.record
        span = tracer().start_span(
            f"{name} {envelope.type}",
            context=extract(record.headers),
            kind=SpanKind.CONSUMER,
            attributes=event_attributes(envelope, record.topic),
            start_time=start_ns,
        )
        span.end(end_time=end_ns)


def current_trace_headers() -> dict[str, str]:
    """The current span's W3C context as a small dict, to keep with work that resumes later (a timer)."""
    carrier: Headers = []
    inject(carrier)
    return {key: value.decode() for key, value in carrier}


@contextmanager
def resumed_span(
    trace_headers: Mapping[str, str], name: str, attributes: dict[str, str] | None = None
) -> Iterator[Span]:
    """An INTERNAL span continuing the trace saved by ``current_trace_headers`` (a new trace when it is empty)."""
    carrier = [(key, value.encode()) for key, value in trace_headers.items()]
    with tracer().start_as_current_span(
        name, context=extract(carrier), kind=SpanKind.INTERNAL, attributes=attributes or {}
    ) as span:
        yield span


@contextmanager
def resumed_context(trace_headers: Mapping[str, str]) -> Iterator[None]:
    """Make the context saved by ``current_trace_headers`` current without a span of its own: what is published
    inside becomes a child of the span that saved it (nothing changes when it is empty)."""
    if not trace_headers:
        yield
        return
    with _current(extract([(key, value.encode()) for key, value in trace_headers.items()])):
        yield


@contextmanager
def _current(context: otel_context.Context) -> Iterator[None]:
    """``context`` made current for the block."""
    token = otel_context.attach(context)
    try:
        yield
    finally:
        otel_context.detach(token)
