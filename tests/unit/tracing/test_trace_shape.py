"""The helpers that keep a goal one trace (resumed contexts, timers that remember their trace, batch spans), and
the pure check the cross-process trace test applies to what its OTLP receiver got."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.scheduler.timers import Timer
from shared import tracing
from shared.bus.record import Record
from shared.events.catalogue.goals import SubmitGoal
from shared.events.codec import new_event
from shared.events.envelope import Envelope
from tests.integration.otlp_receiver import CONSUMER, PRODUCER, ReceivedSpan, goal_trace_problems

GOAL = "g1"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Spans finished during the test (OpenTelemetry allows one global provider a process: reuse it if set)."""
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        tracing.install_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


def test_work_resumed_later_continues_the_trace_that_saved_it(spans: InMemorySpanExporter) -> None:
    with tracing.tracer().start_as_current_span("handle TaskCreated") as handling:
        saved = tracing.current_trace_headers()
    timer = Timer.from_dict(Timer(1.0, "e1", {}, saved).to_dict())
    with tracing.resumed_context(timer.trace), tracing.tracer().start_as_current_span("publish TaskAssigned"):
        pass
    with tracing.resumed_span(timer.trace, "fire TaskRetryDue"):
        pass
    by_name = {s.name: s for s in spans.get_finished_spans()}
    trace_id = handling.get_span_context().trace_id
    for name in ("publish TaskAssigned", "fire TaskRetryDue"):
        assert by_name[name].context.trace_id == trace_id
        assert by_name[name].parent is not None and by_name[name].parent.span_id == handling.get_span_context().span_id


def test_timers_written_before_traces_were_kept_still_load() -> None:
    assert Timer.from_dict({"due_at": 1.0, "event_id": "e1", "event": {}}).trace == {}


@dataclass(frozen=True)
class _Delivery:
    envelope: Envelope[SubmitGoal]
    record: Record


def test_a_batch_gets_one_consumer_span_per_event_parented_by_its_producer(spans: InMemorySpanExporter) -> None:
    event = new_event(SubmitGoal(goal_id=GOAL, goal_type="fix_bug"), producer="t", stream_id=GOAL, correlation_id=GOAL)
    with tracing.tracer().start_as_current_span("publish SubmitGoal", kind=SpanKind.PRODUCER) as produced:
        headers: list[tuple[str, bytes]] = []
        tracing.inject(headers)
    record = Record(topic="t", partition=0, offset=1, key=None, value=None, headers=headers)
    tracing.record_batch_spans([_Delivery(event, record)], "project", 1_000, 2_000)
    (projected,) = [s for s in spans.get_finished_spans() if s.name == "project SubmitGoal"]
    assert projected.kind is SpanKind.CONSUMER
    assert projected.parent is not None and projected.parent.span_id == produced.get_span_context().span_id
    assert (projected.start_time, projected.end_time) == (1_000, 2_000)


def span(name: str, span_id: str, parent: str = "", kind: int = 0, event: str = "", trace: str = "t1") -> ReceivedSpan:
    attributes = {"architect.event.correlation_id": GOAL, "architect.event.id": event} if event else {}
    return ReceivedSpan(name.split(":")[0], trace, span_id, parent, name, kind, attributes)


def well_formed() -> list[ReceivedSpan]:
    return [
        span("gateway:POST /goals", "a"),
        span("gateway:publish SubmitGoal", "b", "a", PRODUCER, "e1"),
        span("orchestrator:process SubmitGoal", "c", "b", CONSUMER, "e1"),
        span("orchestrator:publish GoalSubmitted", "d", "c", PRODUCER, "e2"),
        span("projector:project GoalSubmitted", "e", "d", CONSUMER, "e2"),
    ]


def test_a_well_formed_goal_trace_has_no_problems() -> None:
    assert goal_trace_problems(well_formed(), GOAL, ["gateway", "orchestrator", "projector"]) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda s: [*s, span("scheduler:publish TaskRetryDue", "x", "", PRODUCER, "e3", trace="t2")], "another trace"),
        (lambda s: [*s, span("assigner:assign TaskCreated", "x", "gone", CONSUMER, "e9")], "never arrived"),
        (lambda s: [*s, span("assigner:assign GoalSubmitted", "x", "c", CONSUMER, "e2")], "not a child of"),
        (lambda s: [*s, span("assigner:publish TaskAssigned", "x", "", PRODUCER, "e4")], "2 root spans"),
        (lambda s: s, "no span from ['assigner']"),
    ],
    ids=["split-trace", "orphan", "wrong-parent", "second-root", "service-missing"],
)
def test_each_kind_of_broken_trace_is_named(change: object, problem: str) -> None:
    problems = goal_trace_problems(change(well_formed()), GOAL, ["gateway", "assigner"])  # type: ignore[operator]
    assert any(problem in p for p in problems), problems


def test_a_consumer_linked_to_its_producer_is_well_formed() -> None:
    attributes = {"architect.event.correlation_id": GOAL, "architect.event.id": "e2"}
    linked = ReceivedSpan("projector", "t1", "e", "c", "project GoalSubmitted", CONSUMER, attributes, (("t1", "d"),))
    assert goal_trace_problems([*well_formed()[:4], linked], GOAL, ["projector"]) == []


TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
GOAL_SUBMITTED = new_event(
    SubmitGoal(goal_id=GOAL, goal_type="feature"), producer="test", stream_id=GOAL, correlation_id=GOAL
)


def published_while_handling(carried: list[tuple[str, bytes]], out_topic: str = "t") -> dict[str, bytes]:
    """The trace headers an event published while handling a record that carried ``carried`` gets."""
    published: list[tuple[str, bytes]] = []
    with (
        tracing.consume_span("t", carried, "process", envelope=GOAL_SUBMITTED),
        tracing.produce_span(GOAL_SUBMITTED, out_topic),
    ):
        tracing.inject(published)
    return dict(published)


def test_with_tracing_off_a_consumed_records_context_passes_through_to_what_is_published(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracing, "enabled", lambda: False)
    carried = [("traceparent", TRACEPARENT.encode())]
    # The no-op tracer's pass-through, without a span.
    assert published_while_handling(carried)["traceparent"].decode() == TRACEPARENT
    assert published_while_handling([]) == {}
    assert trace.get_current_span() is trace.INVALID_SPAN or not trace.get_current_span().get_span_context().is_valid
    assert spans.get_finished_spans() == ()


def test_with_tracing_on_consume_and_produce_spans_name_the_event(spans: InMemorySpanExporter) -> None:
    published = published_while_handling([("traceparent", TRACEPARENT.encode())], out_topic="out")
    by_kind = {s.kind: s for s in spans.get_finished_spans()}
    consumed, produced = by_kind[SpanKind.CONSUMER], by_kind[SpanKind.PRODUCER]
    assert consumed.attributes["architect.event.id"] == str(GOAL_SUBMITTED.event_id)
    assert consumed.parent.span_id == int("b7ad6b7169203331", 16)
    assert produced.parent.span_id == consumed.context.span_id
    assert produced.attributes["messaging.destination.name"] == "out"
    assert published["traceparent"].decode().split("-")[2] == f"{produced.context.span_id:016x}"
