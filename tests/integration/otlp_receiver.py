"""An OTLP/HTTP trace receiver in the test process: what the services' OTLP exporters send to
``OTEL_EXPORTER_OTLP_ENDPOINT`` (``POST /v1/traces``, an ``ExportTraceServiceRequest`` protobuf), decoded into
``ReceivedSpan``s, plus a pure check of a goal's trace shape."""

from __future__ import annotations

import gzip
import threading
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

CONSUMER = ProtoSpan.SPAN_KIND_CONSUMER
PRODUCER = ProtoSpan.SPAN_KIND_PRODUCER
CORRELATION = "architect.event.correlation_id"
EVENT_ID = "architect.event.id"


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: int
    attributes: dict[str, str] = field(default_factory=dict)
    links: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        return f"{self.service}:{self.name}"


def _value(value: AnyValue) -> str:
    kind = value.WhichOneof("value")
    return "" if kind is None else str(getattr(value, kind))


def decode_request(body: bytes) -> list[ReceivedSpan]:
    """The spans of one ``ExportTraceServiceRequest``."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        service = resource.get("service.name", "?")
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        service=service,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        name=span.name,
                        kind=span.kind,
                        attributes={a.key: _value(a.value) for a in span.attributes},
                        links=tuple((link.trace_id.hex(), link.span_id.hex()) for link in span.links),
                    )
                )
    return spans


class OtlpReceiver:
    """Collects every span POSTed to ``endpoint`` + ``/v1/traces``."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self._server = server
        self._lock = threading.Lock()
        self._spans: list[ReceivedSpan] = []
        self.requests = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def add(self, spans: Iterable[ReceivedSpan]) -> None:
        with self._lock:
            self._spans.extend(spans)
            self.requests += 1

    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self._spans)


@contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """An OTLP/HTTP receiver on a free local port for the block."""
    holder: dict[str, OtlpReceiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            encoding = self.headers.get("Content-Encoding", "")
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            if self.path != "/v1/traces":
                self.send_error(404)
                return
            holder["receiver"].add(decode_request(body))
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["receiver"] = OtlpReceiver(server)
    thread = threading.Thread(target=server.serve_forever, name="otlp-receiver", daemon=True)
    thread.start()
    try:
        yield holder["receiver"]
    finally:
        server.shutdown()
        server.server_close()


def goal_trace_problems(spans: list[ReceivedSpan], goal_id: str, services: Iterable[str]) -> list[str]:
    """What is wrong with the goal's trace: spans of the goal in other traces, more than one root, spans whose
    parent never arrived, consumer spans whose parent or link is not the span that produced their record, and
    services absent from the trace. Empty when the goal is one well-formed trace across ``services``."""
    goal_spans = [s for s in spans if s.attributes.get(CORRELATION) == goal_id]
    if not goal_spans:
        return [f"no span names goal {goal_id}"]
    counts = Counter(s.trace_id for s in goal_spans)
    main, _ = counts.most_common(1)[0]
    problems = []
    for trace_id, count in counts.items():
        if trace_id != main:
            first = min((s for s in goal_spans if s.trace_id == trace_id), key=lambda s: s.parent_id != "")
            problems.append(f"{count} span(s) of the goal in another trace {trace_id}, e.g. {first.describe()}")
    trace = {s.span_id: s for s in spans if s.trace_id == main}
    roots = [s for s in trace.values() if not s.parent_id]
    if len(roots) != 1:
        problems.append(f"{len(roots)} root spans: {sorted(s.describe() for s in roots)}")
    producers = {(s.trace_id, s.span_id): s for s in spans if s.kind == PRODUCER}
    for span in trace.values():
        if span.parent_id and span.parent_id not in trace:
            problems.append(f"{span.describe()} has a parent {span.parent_id} that never arrived")
        if span.kind != CONSUMER:
            continue
        event_id = span.attributes.get(EVENT_ID)
        candidates = [producers.get((span.trace_id, span.parent_id))] + [producers.get(link) for link in span.links]
        if not any(c is not None and c.attributes.get(EVENT_ID) == event_id for c in candidates):
            problems.append(
                f"{span.describe()} is not a child of (or linked to) the span that produced event {event_id}"
            )
    missing = set(services) - {s.service for s in trace.values()}
    if missing:
        problems.append(f"no span from {sorted(missing)}")
    return problems
