"""A chain of events across two consumers forms one trace: every consumer span is the child of the span that
produced its record, and every event it emits is produced inside its span."""

from __future__ import annotations

import itertools

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared import tracing
from shared.bus.consumer import ConsumerLoop, Delivery
from shared.bus.producer import EventProducer
from shared.events.catalogue.goals import GoalSubmitted, SubmitGoal
from shared.events.catalogue.tasks import TaskCreated
from shared.events.codec import caused_by, new_event
from shared.settings import Settings
from tests.conftest import unique
from tests.integration.kafka_helpers import create_topic, running, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    """OpenTelemetry allows one global provider a process: reuse one another test module installed."""
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        tracing.install_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


def test_three_hops_across_two_consumers_form_one_trace_with_parent_links(
    settings: Settings, spans: InMemorySpanExporter
) -> None:
    first_topic, second_topic = create_topic(settings, unique("test.hop1")), create_topic(settings, unique("test.hop2"))
    producer = EventProducer(settings, client_id="trace-test")
    goal_id = unique("g")
    done: list[str] = []

    def orchestrator(d: Delivery) -> None:  # hop 1 (SubmitGoal -> GoalSubmitted) and hop 3 (TaskCreated -> done)
        if d.envelope.type == "SubmitGoal":
            accepted = GoalSubmitted(goal_id=goal_id, goal_type="fix_bug")
            producer.publish(caused_by(d.envelope, accepted, producer="orch", kind="accepted"), topic=second_topic)
        else:
            done.append(d.envelope.type)

    def assigner(d: Delivery) -> None:  # hop 2 (GoalSubmitted -> TaskCreated)
        task = TaskCreated(task_id=f"{goal_id}:t1", goal_id=goal_id, operator="code", capability="code")
        producer.publish(caused_by(d.envelope, task, producer="assigner", kind="task"), topic=first_topic)

    loops = [
        ConsumerLoop(settings, group_id=unique("orch"), topics=[first_topic], producer=producer, handler=orchestrator),
        ConsumerLoop(settings, group_id=unique("asg"), topics=[second_topic], producer=producer, handler=assigner),
    ]
    spans.clear()
    with running(loops[0]), running(loops[1]):
        root = new_event(
            SubmitGoal(goal_id=goal_id, goal_type="fix_bug"), producer="cli", stream_id=goal_id, correlation_id=goal_id
        )
        producer.publish(root, topic=first_topic)
        producer.flush()
        wait_for(lambda: done == ["TaskCreated"], message="the third hop")

    finished = [
        s
        for s in spans.get_finished_spans()
        if s.attributes and s.attributes.get("architect.event.correlation_id") == goal_id
    ]
    names = [s.name for s in sorted(finished, key=lambda s: s.start_time or 0)]
    assert names == [
        "publish SubmitGoal",
        "process SubmitGoal",
        "publish GoalSubmitted",
        "process GoalSubmitted",
        "publish TaskCreated",
        "process TaskCreated",
    ]
    assert len({s.context.trace_id for s in finished}) == 1, "all hops must share one trace"
    by_name = {s.name: s for s in finished}
    chain = [
        "publish SubmitGoal",
        "process SubmitGoal",
        "publish GoalSubmitted",
        "process GoalSubmitted",
        "publish TaskCreated",
        "process TaskCreated",
    ]
    for parent, child in itertools.pairwise(chain):
        assert by_name[child].parent is not None
        assert by_name[child].parent.span_id == by_name[parent].context.span_id, f"{child} not under {parent}"
    assert by_name["process GoalSubmitted"].kind == SpanKind.CONSUMER
    assert by_name["publish GoalSubmitted"].kind == SpanKind.PRODUCER
    assert by_name["process TaskCreated"].attributes["architect.event.type"] == "TaskCreated"
    causation = by_name["process TaskCreated"].attributes["architect.event.causation_id"]
    assert causation and causation == by_name["process GoalSubmitted"].attributes["architect.event.id"]
