"""Helpers for the agent runtime's integration tests: callable backends, a topic tail, a runtime in a thread."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from confluent_kafka import TopicPartition

from services.agent_runtime.backends.contract import TaskRequest
from services.agent_runtime.fleet_config import parse_fleet
from services.agent_runtime.service import AgentRuntime
from services.assigner.service import Assigner
from services.assigner.settings import AssignerSettings
from shared.bus.reader import end_offsets, scan_consumer
from shared.bus.record import Record
from shared.events.catalogue.tasks import ReplyTopic, TaskCreated
from shared.events.catalogue.work import ExecuteTask
from shared.events.codec import DecodeError, decode, new_event
from shared.events.envelope import Envelope
from shared.settings import Settings
from tests.integration.kafka_helpers import in_thread, wait_for

#: How many times the ``echo`` backend ran each (agent, task, attempt), across every runtime of the session.
CALLS: Counter[tuple[str, str, int]] = Counter()
_CALLS_LOCK = threading.Lock()


def echo(request: TaskRequest, tokens: int = 42) -> dict[str, Any]:
    """A callable backend: its output says what it was given, including the goal's blackboard findings."""
    with _CALLS_LOCK:
        CALLS[(request.agent_id, request.task_id, request.attempt)] += 1
    return {
        "echo": request.inputs,
        "operator": request.operator,
        "findings_seen": list(request.findings),
        "tokens_used": tokens,
    }


class EventTail:
    """Every envelope published to ``topics`` after it was created (their ends are read at once, synchronously)."""

    def __init__(self, settings: Settings, topics: list[str]) -> None:
        self._consumer = scan_consumer(settings, {"enable.partition.eof": False})
        ends = end_offsets(self._consumer, topics)
        self._consumer.assign([TopicPartition(t, p, high) for (t, p), (_, high) in ends.items()])
        self.records: list[Record] = []
        self.envelopes: list[Envelope[Any]] = []

    def collect(self) -> list[Envelope[Any]]:
        """Read what arrived since the last call; returns every envelope seen so far, in arrival order."""
        for message in self._consumer.consume(1000, 0.2):
            if message.error() is not None:
                continue
            record = Record.from_message(message)
            self.records.append(record)
            try:
                self.envelopes.append(decode(record.value, record.key))
            except DecodeError:
                continue
        return self.envelopes

    def matching(self, event_type: str, **fields: Any) -> list[Envelope[Any]]:
        """Envelopes of ``event_type`` whose payload has every one of ``fields``."""
        return [
            e
            for e in self.collect()
            if e.type == event_type and all(getattr(e.payload, k, None) == v for k, v in fields.items())
        ]

    def wait_for(self, event_type: str, count: int = 1, timeout: float = 30.0, **fields: Any) -> list[Envelope[Any]]:
        """Wait until at least ``count`` matching envelopes arrived; returns them."""
        wait_for(
            lambda: len(self.matching(event_type, **fields)) >= count,
            timeout=timeout,
            message=f"{count} {event_type} with {fields}",
        )
        return self.matching(event_type, **fields)

    def close(self) -> None:
        self._consumer.close()


def fleet(runtime_id: str, *agents: dict[str, Any], heartbeat_s: float = 0.5, drain_timeout_s: float = 5.0) -> Any:
    """A validated fleet of ``agents`` for runtime ``runtime_id``."""
    runtime = {"id": runtime_id, "heartbeat_s": heartbeat_s, "drain_timeout_s": drain_timeout_s}
    return parse_fleet({"runtime": runtime, "agents": list(agents)})


def echo_agent(agent_id: str, **overrides: Any) -> dict[str, Any]:
    """An agent whose backend is ``echo``."""
    target = f"{__name__}:echo"
    return {"id": agent_id, "capabilities": ["code"], "backend": {"kind": "callable", "target": target}} | overrides


@contextmanager
def running_assigner(settings: Settings, options: AssignerSettings | None = None) -> Iterator[Assigner]:
    """The real assigner run in a thread for the block, then stopped."""
    service = Assigner(settings, options)
    with in_thread(service, "the assigner"):
        yield service


@contextmanager
def running_runtime(settings: Settings, fleet_config: Any) -> Iterator[AgentRuntime]:
    """An AgentRuntime run in a thread for the block, then stopped (drained) like on SIGTERM."""
    runtime = AgentRuntime(settings, fleet_config)
    with in_thread(runtime, f"the agent runtime {runtime.runtime_id}"):
        yield runtime


def task_created(goal_id: str, step: str, capability: str, *, reply_to: ReplyTopic | None = None) -> Envelope[Any]:
    """A TaskCreated as the orchestrator publishes it (task ``goal_id/step``, keyed by the goal)."""
    created = TaskCreated(
        task_id=f"{goal_id}/{step}", goal_id=goal_id, operator=step, capability=capability, reply_to=reply_to
    )
    return new_event(created, producer="test-orchestrator", stream_id=goal_id, correlation_id=goal_id)


def assignment(
    task_id: str,
    goal_id: str,
    agent_id: str,
    *,
    attempt: int = 1,
    capability: str = "code",
    operator: str = "code",
    timeout_s: float | None = None,
    inputs: dict[str, Any] | None = None,
) -> Envelope[Any]:
    """An ExecuteTask as the assigner sends it (keyed by the agent)."""
    work = ExecuteTask(
        task_id=task_id,
        goal_id=goal_id,
        agent_id=agent_id,
        attempt=attempt,
        operator=operator,
        capability=capability,
        inputs=inputs or {},
        timeout_s=timeout_s,
    )
    return new_event(work, producer="test-assigner", stream_id=agent_id, correlation_id=goal_id)
