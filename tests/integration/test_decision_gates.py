"""The orchestrator asks for decisions and waits, on the real broker: the orchestrator, the consensus engine, the
scheduler, the assigner and an agent runtime of scripted agents run as processes. A goal that wants a decision
before deploying runs up to its deploy step, which is held while the orchestrator's RequestDecision is voted on;
"yes" releases the deploy and the goal completes, "no" fails the goal and nothing is deployed.

The services use fixed consumer group ids: run this module on a broker of its own, e.g.
``ARCHITECT_TEST_KAFKA_NAME=sharedstate ARCHITECT_TEST_KAFKA_PORT=25501``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from services.orchestrator.decision_gates import decision_id_for
from shared.bus.producer import EventProducer
from shared.bus.topics import AGENTS_EVENTS, DECISIONS_EVENTS, GOALS_COMMANDS, GOALS_EVENTS, TASKS_EVENTS
from shared.events.catalogue.decisions import CastVote
from shared.events.catalogue.goals import SubmitGoal
from shared.events.codec import new_event
from shared.events.envelope import Payload
from shared.infra.stack import LocalStack, ServiceSpec
from shared.settings import Settings
from tests.integration.saga_helpers import Collector, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]
STARTUP_TIMEOUT_S = 180.0
GOAL_TIMEOUT_S = 90.0
CAPABILITIES = ("design", "code", "test", "review", "deploy")


@dataclass
class GateStack:
    stack: LocalStack
    producer: EventProducer
    collector: Collector
    voters: list[str]

    def send(self, stream_id: str, payload: Payload) -> None:
        self.producer.publish(new_event(payload, producer="tests", stream_id=stream_id, correlation_id=stream_id))
        self.producer.flush()

    def wait_for(self, stream_id: str, *types: str, timeout_s: float = GOAL_TIMEOUT_S) -> list[Any]:
        what = f"{'/'.join(types)} of {stream_id}"
        return wait_until(self.stack, what, lambda: self.collector.events(stream_id, *types), timeout_s)


@pytest.fixture(scope="module")
def gates(settings: Settings, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GateStack]:
    directory = tmp_path_factory.mktemp("decision-gates")
    tag = uuid.uuid4().hex[:6]
    agents = [
        {
            "id": f"{capability}-{tag}",
            "capabilities": [capability],
            "capacity": 4,
            "backend": {"kind": "scripted", "latency_s": 0.05, "seed": n},
        }
        for n, capability in enumerate(CAPABILITIES)
    ]
    fleet = {"runtime": {"id": f"gates-{tag}", "heartbeat_s": 1, "drain_timeout_s": 5}, "agents": agents}
    fleet_file = directory / "fleet.yaml"
    fleet_file.write_text(yaml.safe_dump(fleet, sort_keys=False))
    # Agents of other test modules on this broker are registered but gone: they miss heartbeats and are not chosen
    # (and a task given to one of them times out and is retried on an agent that is here).
    env = {
        "ARCHITECT_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "ARCHITECT_ASSIGNER_HEARTBEAT_TIMEOUT_S": "3",
        "ARCHITECT_ORCHESTRATOR_WORKER_TIMEOUT_S": "15",
    }
    stack = LocalStack(settings.kafka_bootstrap_servers, database_url, directory / "logs", extra_env=env)
    collector = Collector(settings, [GOALS_EVENTS, GOALS_COMMANDS, TASKS_EVENTS, DECISIONS_EVENTS, AGENTS_EVENTS])
    producer = EventProducer(settings, client_id="decision-gate-tests")
    try:
        stack.start_all(
            [
                "scheduler",
                "assigner",
                "orchestrator",
                "consensus",
                ServiceSpec("agent_runtime", ("--config", str(fleet_file))),
            ]
        )
        for agent in agents:
            wait_until(
                stack,
                f"{agent['id']} to register",
                lambda a=agent["id"]: collector.events(a, "AgentRegistered"),
                STARTUP_TIMEOUT_S,
            )
        yield GateStack(stack, producer, collector, [f"voter-{tag}-{n}" for n in range(3)])
    finally:
        codes = stack.stop()
        producer.close()
        collector.close()
        print(f"\ndecision gate stack stopped (exit codes {codes}); logs in {stack.log_dir}")


@pytest.mark.parametrize(("choice", "ending"), [("yes", "GoalCompleted"), ("no", "GoalFailed")])
def test_a_goal_waits_for_a_decision_before_deploying(gates: GateStack, choice: str, ending: str) -> None:
    goal_id = f"ship-{uuid.uuid4().hex[:8]}"
    gate = {"electorate": gates.voters, "ballot_via": "commands", "question": "Is it safe to deploy?"}
    submit = SubmitGoal(goal_id=goal_id, goal_type="implement_feature", params={"decide_before_deploy": gate})
    gates.send(goal_id, submit)

    deploy_task = f"{goal_id}/deploy_staging"
    decision_id = decision_id_for(deploy_task)
    (requested,) = gates.wait_for(decision_id, "DecisionRequested", timeout_s=STARTUP_TIMEOUT_S)
    assert requested.payload.requested_by == f"goal:{goal_id}" and requested.payload.electorate == gates.voters
    succeeded = {e.payload.task_id for e in gates.collector.events(goal_id, "TaskSucceeded")}
    assert f"{goal_id}/review" in succeeded, "the decision is asked once the deploy step's dependencies are done"
    assert not [e for e in gates.collector.events(goal_id, "TaskCreated") if e.payload.task_id == deploy_task]
    assert gates.collector.events(goal_id, "GoalCompleted", "GoalFailed") == [], "the goal waits"

    for voter in gates.voters[:2]:
        gates.send(decision_id, CastVote(decision_id=decision_id, voter=voter, choice=choice, round=1))

    (ended,) = gates.wait_for(goal_id, "GoalCompleted", "GoalFailed")
    assert ended.type == ending
    (settled,) = gates.collector.events(goal_id, "DecisionGateSettled")
    assert settled.payload.choice == choice and settled.payload.accepted is (choice == "yes")
    deployed = [e for e in gates.collector.events(goal_id, "TaskSucceeded") if e.payload.task_id == deploy_task]
    if choice == "yes":
        assert len(deployed) == 1
        (granted,) = gates.collector.events(goal_id, "ApprovalGranted")
        assert granted.payload.approver == f"decision:{decision_id}"
    else:
        assert deployed == [] and "chose 'no'" in ended.payload.reason
