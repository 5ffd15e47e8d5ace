"""A realistic mix of Architect events: agents registering, then many goals run from submission to the end.

Each goal run follows ``tests/integration/projector_helpers.goal_stream`` (submitted, planned, each task created,
assigned, started and succeeded with an agent heartbeat, completed) and adds what production streams also
carry: several agents, some approval gates, failed attempts that are retried, the odd goal that fails, and
task outputs of about 700 bytes. Event ids and timestamps are fresh (the envelope's defaults); everything else
follows the seeded ``random.Random`` passed in.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from shared.events.catalogue.agents import AgentHeartbeat, AgentRegistered
from shared.events.catalogue.goals import (
    ApprovalGranted,
    ApprovalRejected,
    ApprovalRequested,
    GoalCompleted,
    GoalFailed,
    GoalPlanned,
    GoalSubmitted,
    PlannedTask,
)
from shared.events.catalogue.tasks import (
    TaskAssigned,
    TaskCreated,
    TaskFailed,
    TaskRetryScheduled,
    TaskStarted,
    TaskSucceeded,
)
from shared.events.codec import new_event
from shared.events.envelope import Envelope, Payload

_VOCABULARY = (
    "refactor parser module handle edge case null input update tests fix regression in scheduler add "
    "retry budget document the new flag rename variable improve error message remove dead code bump "
    "dependency cache lookup result split function extract class migrate schema index column validate "
    "payload log warning when queue is full tighten timeout guard against overflow normalise path resolve "
    "conflict"
)
_WORDS = tuple(_VOCABULARY.split())
_GOAL_TYPES = ("fix_bug", "add_feature", "write_tests", "refactor", "update_docs")
_OPERATORS = (("code", "code"), ("review", "review"), ("test", "test"), ("docs", "writing"))
_MODELS = ("gpt-4o-mini", "claude-haiku", "llama-3-8b", "qwen-2.5-coder")


@dataclass(frozen=True)
class MixShape:
    """How goal runs look: task counts, how often gates, retries and failures happen, output size."""

    tasks_min: int = 2
    tasks_max: int = 8
    approval_share: float = 0.1
    retry_share: float = 0.08
    failed_goal_share: float = 0.03
    agents: int = 200
    output_bytes: int = 700


def prose(rng: random.Random, length: int) -> str:
    """Words from a small vocabulary, cut to exactly ``length`` characters (compresses like real text)."""
    words: list[str] = []
    size = 0
    while size < length:
        word = rng.choice(_WORDS)
        words.append(word)
        size += len(word) + 1
    return " ".join(words)[:length]


def task_output(rng: random.Random, task_id: str, size: int) -> dict[str, Any]:
    """An agent's result whose JSON is ``size`` bytes long (for ``size`` above ~200)."""
    output: dict[str, Any] = {
        "summary": "",
        "files_changed": [f"src/{rng.choice(_WORDS)}/{rng.choice(_WORDS)}.py" for _ in range(rng.randint(1, 4))],
        "tests": {"passed": rng.randint(5, 400), "failed": 0, "skipped": rng.randint(0, 3)},
        "task": task_id,
    }
    room = size - len(json.dumps(output, separators=(",", ":")))
    output["summary"] = prose(rng, max(room, 0))
    return output


def agent_ids(count: int) -> list[str]:
    """Stable agent ids ``agent-000`` ...; agents are the Kafka key of their own stream."""
    return [f"agent-{number:03d}" for number in range(count)]


def agent_registrations(rng: random.Random, agents: Sequence[str]) -> list[Envelope[Any]]:
    """One AgentRegistered per agent."""
    return [
        new_event(
            AgentRegistered(
                agent_id=agent,
                capabilities=sorted({rng.choice(_OPERATORS)[1] for _ in range(3)}),
                capacity=rng.randint(1, 8),
                cost=round(rng.uniform(0.1, 3.0), 2),
                model=rng.choice(_MODELS),
            ),
            producer="assigner",
            stream_id=agent,
            correlation_id=agent,
        )
        for agent in agents
    ]


def goal_run(rng: random.Random, goal_id: str, agents: Sequence[str], shape: MixShape) -> list[Envelope[Any]]:
    """Every event of one goal, in the order services emit them (gates, retries and failures included)."""
    events: list[Envelope[Any]] = []

    def emit(payload: Payload, producer: str, stream: str = goal_id) -> None:
        events.append(new_event(payload, producer=producer, stream_id=stream, correlation_id=goal_id))

    goal_type = rng.choice(_GOAL_TYPES)
    emit(
        GoalSubmitted(
            goal_id=goal_id,
            goal_type=goal_type,
            title=prose(rng, rng.randint(20, 80)),
            params={"repository": f"git@example.com:{rng.choice(_WORDS)}.git", "branch": "main"},
            priority=rng.randint(0, 5),
            submitted_by=f"user-{rng.randint(1, 50)}",
        ),
        "api",
    )
    task_count = rng.randint(shape.tasks_min, shape.tasks_max)
    gated = rng.randrange(task_count) if rng.random() < shape.approval_share else None
    plan = []
    for number in range(task_count):
        operator, capability = rng.choice(_OPERATORS)
        depends = [f"{goal_id}:t{d}" for d in range(max(0, number - rng.randint(1, 2)), number)]
        plan.append(
            PlannedTask(
                task_id=f"{goal_id}:t{number}",
                operator=operator,
                capability=capability,
                depends_on=depends,
                requires_approval=number == gated,
                tier="approval" if number == gated else "worker",
            )
        )
    emit(GoalPlanned(goal_id=goal_id, method=goal_type, tasks=plan), "orchestrator")
    fails_at = rng.randrange(task_count) if rng.random() < shape.failed_goal_share else None
    succeeded = 0
    for number, task in enumerate(plan):
        if task.requires_approval:
            emit(ApprovalRequested(goal_id=goal_id, task_id=task.task_id, operator=task.operator), "orchestrator")
            if rng.random() < 0.9:
                emit(ApprovalGranted(goal_id=goal_id, task_id=task.task_id, approver="alice"), "api")
            else:
                emit(ApprovalRejected(goal_id=goal_id, task_id=task.task_id, approver="bob", reason="no"), "api")
                emit(GoalFailed(goal_id=goal_id, reason="approval rejected", failed_task_id=task.task_id), "api")
                return events
        emit(
            TaskCreated(
                task_id=task.task_id,
                goal_id=goal_id,
                operator=task.operator,
                capability=task.capability,
                tier=task.tier,
                inputs={"instructions": prose(rng, rng.randint(40, 160))},
                depends_on=list(task.depends_on),
            ),
            "orchestrator",
        )
        attempts = 2 if rng.random() < shape.retry_share or number == fails_at else 1
        for attempt in range(1, attempts + 1):
            agent = rng.choice(agents)
            emit(TaskAssigned(task_id=task.task_id, goal_id=goal_id, agent_id=agent, attempt=attempt), "assigner")
            emit(TaskStarted(task_id=task.task_id, goal_id=goal_id, agent_id=agent, attempt=attempt), "agent-runtime")
            last = attempt == attempts
            if last and number != fails_at:
                emit(
                    TaskSucceeded(
                        task_id=task.task_id,
                        goal_id=goal_id,
                        agent_id=agent,
                        attempt=attempt,
                        output=task_output(rng, task.task_id, shape.output_bytes),
                        tokens_used=rng.randint(200, 20_000),
                        duration_ms=rng.randint(500, 120_000),
                    ),
                    "agent-runtime",
                )
                succeeded += 1
            else:
                error_class = rng.choice(("timeout", "rate_limit", "crash"))
                emit(
                    TaskFailed(
                        task_id=task.task_id,
                        goal_id=goal_id,
                        agent_id=agent,
                        attempt=attempt,
                        error_class=error_class,
                        error=f"{error_class}: {prose(rng, rng.randint(20, 120))}",
                        duration_ms=rng.randint(500, 60_000),
                    ),
                    "agent-runtime",
                )
                if not last:
                    emit(
                        TaskRetryScheduled(
                            task_id=task.task_id, goal_id=goal_id, attempt=attempt + 1, delay_s=2.0**attempt
                        ),
                        "assigner",
                    )
            emit(
                AgentHeartbeat(agent_id=agent, in_flight=rng.randint(0, 4), tokens_used=rng.randint(0, 10**6)),
                "agent-runtime",
                stream=agent,
            )
        if number == fails_at:
            emit(GoalFailed(goal_id=goal_id, reason="task failed twice", failed_task_id=task.task_id), "orchestrator")
            return events
    emit(GoalCompleted(goal_id=goal_id, tasks_succeeded=succeeded), "orchestrator")
    return events


def event_stream(rng: random.Random, count: int, shape: MixShape = MixShape()) -> Iterator[Envelope[Any]]:
    """Exactly ``count`` events: the agents' registrations, then whole goal runs with fresh ids (the last cut)."""
    agents = agent_ids(shape.agents)
    produced = 0
    for envelope in agent_registrations(rng, agents):
        if produced == count:
            return
        yield envelope
        produced += 1
    while produced < count:
        goal_id = f"goal-{rng.getrandbits(64):016x}"
        for envelope in goal_run(rng, goal_id, agents, shape):
            if produced == count:
                return
            yield envelope
            produced += 1
