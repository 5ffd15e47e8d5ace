"""The consensus engine on the real broker, with the scheduler, the assigner, an agent runtime of scripted voters
and the projector running as processes: a tactical decision whose ballots go out as tasks reaches a
supermajority with every vote in the audit trail and the read models; an equivocating voter cannot change a
BFT decision; a round whose voters stay silent is closed by its deadline through the scheduler; a strategic
debate that does not converge escalates and a human resolves it.

The services use fixed consumer group ids: run this module on a broker of its own, e.g.
``ARCHITECT_TEST_KAFKA_NAME=consensus ARCHITECT_TEST_KAFKA_PORT=25792``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from psycopg.rows import dict_row
from pydantic import SecretStr

from services.consensus.saga_bridge import decision_id_for
from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from shared.bus.producer import EventProducer
from shared.bus.topics import AGENTS_EVENTS, DECISIONS_EVENTS, SAGAS_EVENTS, TASKS_EVENTS
from shared.db.connection import connect
from shared.db.schema import migrate
from shared.events.catalogue.decisions import (
    CastVote,
    Contribute,
    JudgeDecision,
    RequestDecision,
    ResolveDecision,
)
from shared.events.catalogue.sagas import StartSaga
from shared.events.codec import new_event
from shared.events.envelope import Payload
from shared.infra.postgres_server import fresh_database
from shared.infra.stack import LocalStack, ServiceSpec
from shared.settings import Settings
from tests.integration.saga_helpers import Collector, wait_until

STARTUP_TIMEOUT_S = 180.0
DECISION_TIMEOUT_S = 60.0
VOTERS = 5
FINAL = ("DecisionReached", "DecisionEscalated")
FINISHED_SAGA = ("SagaCompleted", "SagaFailed", "SagaCompensated")


@dataclass
class ConsensusStack:
    stack: LocalStack
    settings: Settings
    database_url: str
    producer: EventProducer
    collector: Collector
    voters: list[str]
    saga_definition: str

    def send(self, decision_id: str, payload: Payload) -> None:
        self.producer.publish(new_event(payload, producer="tests", stream_id=decision_id, correlation_id=decision_id))
        self.producer.flush()

    def request(self, **fields: Any) -> str:
        decision_id = f"dec-{uuid.uuid4().hex[:10]}"
        defaults: dict[str, Any] = {"question": "Deploy?", "options": ["yes", "no"], "requested_by": "tests"}
        self.send(decision_id, RequestDecision(decision_id=decision_id, **(defaults | fields)))
        return decision_id

    def events(self, decision_id: str, *types: str) -> list[Any]:
        return self.collector.events(decision_id, *types)

    def wait_for(self, decision_id: str, *types: str, timeout_s: float = DECISION_TIMEOUT_S) -> list[Any]:
        return wait_until(
            self.stack, f"{'/'.join(types)} of {decision_id}", lambda: self.events(decision_id, *types), timeout_s
        )

    def query(self, sql: str, *args: object) -> list[dict[str, Any]]:
        with connect(self.database_url) as conn, conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(sql, args).fetchall()

    def architect(self, *args: str) -> str:
        """``architect ARGS`` in its own process, configured through the environment; its stdout."""
        env = os.environ | {
            "ARCHITECT_KAFKA_BOOTSTRAP_SERVERS": self.settings.kafka_bootstrap_servers,
            "DATABASE_URL": self.database_url,
            "COLUMNS": "400",
        }
        done = subprocess.run(
            [sys.executable, "-m", "shared.cli.main", *args], capture_output=True, text=True, env=env, timeout=60
        )
        assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def read_model(self, decision_id: str, status: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The decision's row once the projector shows it ``status``, and its vote rows."""

        def shown() -> list[dict[str, Any]] | None:
            found = self.query("SELECT * FROM decisions WHERE decision_id = %s AND status = %s", decision_id, status)
            return found or None

        (row,) = wait_until(self.stack, f"decision {decision_id} {status} in the read model", shown, 60.0)
        votes = self.query("SELECT * FROM decision_votes WHERE decision_id = %s ORDER BY round, voter", decision_id)
        return row, votes


@pytest.fixture(scope="module")
def consensus(
    settings: Settings, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsensusStack]:
    directory = tmp_path_factory.mktemp("consensus")
    tag = uuid.uuid4().hex[:6]
    voters = [f"voter-{tag}-{n}" for n in range(1, VOTERS + 1)]
    fleet = {
        "runtime": {"id": f"consensus-{tag}", "heartbeat_s": 1, "drain_timeout_s": 5},
        "agents": [
            {
                "id": voter,
                "capabilities": [f"elector:{voter}"],
                "capacity": 4,
                "backend": {"kind": "callable", "target": "tests.integration.consensus_backends:scripted_voter"},
            }
            for voter in voters
        ],
    }
    fleet_file = directory / "fleet.yaml"
    fleet_file.write_text(yaml.safe_dump(fleet, sort_keys=False))
    definitions_dir = directory / "definitions"
    definitions_dir.mkdir()
    saga_definition = f"deploy_gate_{tag}"
    gate = {
        "name": saga_definition,
        "steps": [
            {
                "name": "approve",
                "action": {
                    "command": "RequestDecision",
                    "params": {
                        "question": "Is it safe to deploy?",
                        "tier": "operational",
                        "options": ["yes", "no"],
                        "accept": ["yes"],
                        "ballot_via": "commands",
                    },
                },
            }
        ],
    }
    (definitions_dir / "gate.yaml").write_text(yaml.safe_dump(gate, sort_keys=False))
    read_models = fresh_database(database_url, f"consensus_{uuid.uuid4().hex[:10]}")
    with connect(read_models) as conn:
        migrate(conn)
    env = {
        "ARCHITECT_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "ARCHITECT_DATA_DIR": str(directory / "data"),
        "ARCHITECT_CONSENSUS_OPERATIONAL_STEP_TIMEOUT_S": "3",
        "ARCHITECT_CONSENSUS_STRATEGIC_STEP_TIMEOUT_S": "30",
        # Long enough that the kill test's decisions, open while the engine is down and restarts, are settled by
        # their votes, not closed by their deadline on a slow machine (one CI run took over 30 s).
        "ARCHITECT_CONSENSUS_TACTICAL_STEP_TIMEOUT_S": "120",
        "ARCHITECT_SAGA_DEFINITIONS_DIR": str(definitions_dir),
    }
    stack = LocalStack(settings.kafka_bootstrap_servers, read_models, directory / "logs", extra_env=env)
    collector = Collector(settings, [DECISIONS_EVENTS, TASKS_EVENTS, AGENTS_EVENTS, SAGAS_EVENTS])
    producer = EventProducer(settings, client_id="consensus-tests")
    consensus_stack = ConsensusStack(stack, settings, read_models, producer, collector, voters, saga_definition)
    try:
        stack.start_all(
            [
                "scheduler",
                "assigner",
                "projector",
                "consensus",
                "saga_coordinator",
                ServiceSpec("agent_runtime", ("--config", str(fleet_file))),
            ]
        )
        for voter in voters:
            wait_until(
                stack, f"{voter} to register", lambda v=voter: collector.events(v, "AgentRegistered"), STARTUP_TIMEOUT_S
            )
        warm_up = consensus_stack.request(tier="operational", electorate=voters[:1], ballot_via="commands")
        consensus_stack.send(warm_up, CastVote(decision_id=warm_up, voter=voters[0], choice="yes", round=1))
        consensus_stack.wait_for(warm_up, "DecisionReached", timeout_s=STARTUP_TIMEOUT_S)
        yield consensus_stack
    finally:
        codes = stack.stop()
        producer.close()
        collector.close()
        print(f"\nconsensus stack stopped (exit codes {codes}); logs in {stack.log_dir}")


def test_a_tactical_decision_of_scripted_voters_reaches_a_supermajority_through_tasks(
    consensus: ConsensusStack,
) -> None:
    voters = consensus.voters
    script = {voters[0]: "yes", voters[1]: "yes", voters[2]: "yes", voters[3]: "yes", voters[4]: "no"}
    decision_id = consensus.request(tier="tactical", electorate=voters, context={"script": script})

    (reached,) = consensus.wait_for(decision_id, "DecisionReached")
    assert (reached.payload.choice, reached.payload.protocol) == ("yes", "supermajority")
    tasks = consensus.events(decision_id, "TaskCreated")
    assert sorted((t.payload.operator, t.payload.capability) for t in tasks) == sorted(
        ("vote", f"elector:{v}") for v in voters
    )
    recorded = consensus.events(decision_id, "VoteRecorded")
    assert len(recorded) >= 4, "the round closes once four of five said yes (no completion can change it)"
    for vote in recorded:
        assert vote.payload.choice == script[vote.payload.voter]
        assert vote.payload.weight == 0.5 and vote.payload.rationale.startswith(vote.payload.voter)
    assert consensus.events(decision_id, "ContributionsRequested") == [], "no debate was needed"
    row, votes = consensus.read_model(decision_id, "reached")
    assert (row["choice"], row["decided_protocol"], row["tier"]) == ("yes", "supermajority", "tactical")
    counted = {(v["voter"], v["choice"], v["weight"]) for v in votes if v["status"] == "counted"}
    assert counted == {(e.payload.voter, e.payload.choice, 0.5) for e in recorded}
    late = [v for v in votes if v["status"] != "counted"]
    assert all(v["status"] == "ignored" and "not open" in v["reason"] for v in late), "a late ballot is audited"


def test_a_strategic_debate_through_agent_tasks_converges(consensus: ConsensusStack) -> None:
    voters = consensus.voters[:3]
    script = dict.fromkeys(voters, "blue-green")
    decision_id = consensus.request(
        tier="strategic", electorate=voters, options=None, question="How do we deploy?", context={"script": script}
    )

    (reached,) = consensus.wait_for(decision_id, "DecisionReached")
    assert (reached.payload.choice, reached.payload.protocol) == ("blue-green", "debate")
    operators = sorted((t.payload.operator, t.payload.capability) for t in consensus.events(decision_id, "TaskCreated"))
    assert operators == sorted((op, f"elector:{v}") for op in ("propose", "critique", "revise") for v in voters)
    critiques = [t for t in consensus.events(decision_id, "TaskCreated") if t.payload.operator == "critique"]
    assert all(len(t.payload.inputs["debate"]) == len(voters) for t in critiques), "critics see every proposal"
    recorded = consensus.events(decision_id, "ContributionRecorded")
    assert sorted((c.payload.phase, c.payload.agent) for c in recorded) == sorted(
        (phase, v) for phase in ("propose", "critique", "revise") for v in voters
    )


def test_an_equivocating_voter_cannot_change_a_bft_decision(consensus: ConsensusStack) -> None:
    honest, byzantine = consensus.voters[:3], consensus.voters[3]
    electorate = [*honest, byzantine]
    decision_id = consensus.request(tier="tactical", electorate=electorate, protocol="bft", ballot_via="commands")
    consensus.send(decision_id, CastVote(decision_id=decision_id, voter=byzantine, choice="no", round=1))
    consensus.send(decision_id, CastVote(decision_id=decision_id, voter=byzantine, choice="yes", round=1))
    for voter in honest[:2]:
        consensus.send(decision_id, CastVote(decision_id=decision_id, voter=voter, choice="yes", round=1))
    consensus.wait_for(decision_id, "EquivocationDetected")
    assert consensus.events(decision_id, "DecisionReached") == [], "two honest votes are not a 2f+1 quorum"
    consensus.send(decision_id, CastVote(decision_id=decision_id, voter=honest[2], choice="yes", round=1))

    (reached,) = consensus.wait_for(decision_id, "DecisionReached")
    assert (reached.payload.choice, reached.payload.protocol, reached.payload.flagged) == ("yes", "bft", [byzantine])
    _, votes = consensus.read_model(decision_id, "reached")
    assert {(v["voter"], v["choice"]): v["status"] for v in votes} == {
        (byzantine, "no"): "dropped",
        (byzantine, "yes"): "dropped",
        **{(voter, "yes"): "counted" for voter in honest},
    }


def test_a_silent_round_is_closed_by_its_deadline_through_the_scheduler(consensus: ConsensusStack) -> None:
    voters = consensus.voters[:3]
    decision_id = consensus.request(tier="operational", electorate=voters, ballot_via="commands")
    consensus.send(decision_id, CastVote(decision_id=decision_id, voter=voters[0], choice="no", round=1))

    (reached,) = consensus.wait_for(decision_id, "DecisionReached", timeout_s=30.0)
    assert reached.payload.choice == "no"
    (closed,) = consensus.events(decision_id, "RoundClosed")
    assert closed.payload.why == "deadline passed"


def test_a_strategic_debate_without_convergence_escalates_and_a_human_resolves_it(consensus: ConsensusStack) -> None:
    a, b = consensus.voters[:2]
    decision_id = consensus.request(tier="strategic", electorate=[a, b], ballot_via="commands")
    consensus.wait_for(decision_id, "ContributionsRequested")
    for round_ in range(1, 6):
        for phase in ("propose", "critique", "revise") if round_ == 1 else ("critique", "revise"):
            for agent, position in ((a, "yes"), (b, "no")):
                contribution = Contribute(
                    decision_id=decision_id, agent=agent, round=round_, phase=phase, text="because", position=position
                )
                consensus.send(decision_id, contribution)

    (escalated,) = consensus.wait_for(decision_id, "DecisionEscalated")
    assert escalated.payload.requires_approval and escalated.payload.positions == {a: "yes", b: "no"}
    consensus.send(decision_id, ResolveDecision(decision_id=decision_id, choice="no", resolved_by="ops-lead"))
    (reached,) = consensus.wait_for(decision_id, "DecisionReached")
    assert (reached.payload.choice, reached.payload.decided_by) == ("no", "ops-lead")
    row, _ = consensus.read_model(decision_id, "reached")
    assert (row["decided_by"], row["requires_approval"], row["positions"]) == ("ops-lead", True, {a: "yes", b: "no"})
    contributions = consensus.query("SELECT * FROM decision_contributions WHERE decision_id = %s", decision_id)
    assert len(contributions) == 2 * (3 + 4 * 2)


def test_the_cli_requests_a_decision_casts_votes_and_shows_the_audit_trail(consensus: ConsensusStack) -> None:
    voters = consensus.voters[:3]
    electorate = [arg for voter in voters for arg in ("--voter", voter)]
    decision_id = consensus.architect(
        "decisions",
        "request",
        "Roll back?",
        "--tier",
        "tactical",
        *electorate,
        "-o",
        "yes",
        "-o",
        "no",
        "--via",
        "commands",
    ).strip()
    consensus.wait_for(decision_id, "RoundOpened")
    for voter in voters[:2]:
        consensus.architect(
            "decisions", "vote", decision_id, "yes", "--as", voter, "--rationale", f"{voter} saw errors"
        )

    consensus.read_model(decision_id, "reached")
    shown = consensus.architect("decisions", "show", decision_id)
    assert "reached" in shown and "supermajority" in shown
    for voter in voters[:2]:
        assert voter in shown and f"{voter} saw errors" in shown
    assert decision_id in consensus.architect("decisions", "list", "--status", "reached", "--limit", "500")
    consensus.architect("decisions", "judge", decision_id, "yes", "--as", "reviewer")
    (judged,) = consensus.wait_for(decision_id, "DecisionJudged")
    assert judged.payload.judged_by == "reviewer" and set(judged.payload.verdicts.values()) == {True}


def test_the_gateway_requests_lists_shows_and_resolves_decisions(consensus: ConsensusStack) -> None:
    keys = "asker-key=asker:submit,ops-key=ops:approve,reader-key=reader"
    settings = Settings(
        kafka_bootstrap_servers=consensus.settings.kafka_bootstrap_servers, database_url=consensus.database_url
    )
    gateway = GatewaySettings(
        api_keys=SecretStr(keys), allow_dev_key=False, publish_timeout_s=10, readiness_timeout_s=2
    )
    asker, ops, reader = ({"X-API-Key": f"{who}-key"} for who in ("asker", "ops", "reader"))
    a, b = consensus.voters[:2]
    with TestClient(create_app(settings, gateway)) as client:
        body = {"question": "Which region?", "tier": "strategic", "electorate": [a, b], "ballot_via": "commands"}
        body["options"] = ["eu", "us"]
        accepted = client.post("/decisions", json=body, headers=asker)
        assert accepted.status_code == 202, accepted.text
        decision_id = accepted.json()["decision_id"]
        assert accepted.headers["Location"] == f"/decisions/{decision_id}"
        consensus.read_model(decision_id, "open")
        assert client.post(f"/decisions/{decision_id}/resolve", json={"choice": "eu"}, headers=ops).status_code == 409
        for round_ in range(1, 6):
            for phase in ("propose", "critique", "revise") if round_ == 1 else ("critique", "revise"):
                for agent, position in ((a, "eu"), (b, "us")):
                    contribution = Contribute(
                        decision_id=decision_id, agent=agent, round=round_, phase=phase, position=position
                    )
                    consensus.send(decision_id, contribution)
        consensus.read_model(decision_id, "escalated")
        detail = client.get(f"/decisions/{decision_id}", headers=reader).json()
        assert (detail["status"], detail["requires_approval"], detail["requested_by"]) == ("escalated", True, "asker")
        assert len(detail["contributions"]) == 2 * (3 + 4 * 2) and detail["votes"] == []
        wrong = client.post(f"/decisions/{decision_id}/resolve", json={"choice": "mars"}, headers=ops)
        assert wrong.status_code == 409 and "options" in wrong.text
        assert client.post(f"/decisions/{decision_id}/resolve", json={"choice": "eu"}, headers=asker).status_code == 403
        resolved = client.post(f"/decisions/{decision_id}/resolve", json={"choice": "eu"}, headers=ops)
        assert resolved.status_code == 202, resolved.text
        consensus.read_model(decision_id, "reached")
        detail = client.get(f"/decisions/{decision_id}", headers=reader).json()
        assert (detail["choice"], detail["decided_by"], detail["decided_protocol"]) == ("eu", "ops", "human")
        listed = client.get("/decisions", params={"status": "reached", "limit": 500}, headers=reader).json()
        assert decision_id in [d["decision_id"] for d in listed["items"]]
        assert client.get("/decisions/dec-unknown", headers=reader).status_code == 404
        assert client.post("/decisions", json={**body, "electorate": []}, headers=asker).status_code == 422


def test_judged_calls_become_track_records_that_weigh_later_votes(consensus: ConsensusStack) -> None:
    # Voters no other test has judged (the CLI test judges the first two).
    right, wrong = consensus.voters[3:5], consensus.voters[2]
    electorate = [*right, wrong]
    first = consensus.request(tier="operational", electorate=electorate, ballot_via="commands")
    for voter, choice in ((wrong, "no"), (right[0], "yes"), (right[1], "yes")):  # the dissent counts: it came first
        consensus.send(first, CastVote(decision_id=first, voter=voter, choice=choice, round=1))
    consensus.wait_for(first, "DecisionReached")
    consensus.send(first, JudgeDecision(decision_id=first, correct_choice="yes", judged_by="tests"))
    (judged,) = consensus.wait_for(first, "DecisionJudged")
    assert judged.payload.verdicts == {right[0]: True, right[1]: True, wrong: False}

    later = consensus.request(tier="tactical", electorate=electorate, ballot_via="commands")
    (requested,) = consensus.wait_for(later, "DecisionRequested")
    assert requested.payload.weights == {right[0]: 2 / 3, right[1]: 2 / 3, wrong: 1 / 3}


@pytest.mark.parametrize(("choice", "finished"), [("yes", "SagaCompleted"), ("no", "SagaFailed")])
def test_a_saga_step_asks_for_a_decision_and_waits_for_it(
    consensus: ConsensusStack, choice: str, finished: str
) -> None:
    voters = consensus.voters[:3]
    saga_id = f"deploy-{uuid.uuid4().hex[:8]}"
    start = StartSaga(saga_id=saga_id, definition=consensus.saga_definition, params={"electorate": voters})
    consensus.send(saga_id, start)
    decision_id = decision_id_for(saga_id, "step", 0, 1)
    (requested,) = consensus.wait_for(decision_id, "DecisionRequested")
    assert requested.payload.requested_by == f"saga:{saga_id}" and requested.payload.electorate == voters
    assert consensus.events(saga_id, *FINISHED_SAGA) == [], "the saga waits for the decision"
    for voter in voters[:2]:
        consensus.send(decision_id, CastVote(decision_id=decision_id, voter=voter, choice=choice, round=1))

    (done,) = consensus.wait_for(saga_id, *FINISHED_SAGA)
    assert done.type == finished
    if finished == "SagaCompleted":
        (succeeded,) = consensus.events(saga_id, "SagaStepSucceeded")
        assert succeeded.payload.output == {"decision_id": decision_id, "choice": "yes"}
    else:
        assert "chose 'no'" in done.payload.reason


def test_an_engine_killed_mid_decision_resumes_and_records_each_vote_once(consensus: ConsensusStack) -> None:
    voters = consensus.voters
    by_command = consensus.request(tier="tactical", electorate=voters, ballot_via="commands")
    script = dict.fromkeys(voters, "yes")
    by_task = consensus.request(tier="tactical", electorate=voters, context={"script": script})
    for voter in voters[:2]:
        consensus.send(by_command, CastVote(decision_id=by_command, voter=voter, choice="yes", round=1))
    wait_until(
        consensus.stack,
        "two votes and the ballot tasks",
        lambda: (
            len(consensus.events(by_command, "VoteRecorded")) == 2
            and len(consensus.events(by_task, "TaskCreated")) == len(voters)
        ),
        DECISION_TIMEOUT_S,
    )

    consensus.stack.kill("consensus")
    for voter, choice in zip(voters[2:], ("yes", "yes", "no"), strict=True):
        consensus.send(by_command, CastVote(decision_id=by_command, voter=voter, choice=choice, round=1))
    # While the engine is down the agents answer their ballots; the results wait in the topic.
    wait_until(
        consensus.stack,
        "the ballots to be answered",
        lambda: len(consensus.events(by_task, "TaskSucceeded")) == len(voters),
        DECISION_TIMEOUT_S,
        services_up=False,
    )
    consensus.stack.restart("consensus")

    for decision_id in (by_command, by_task):
        (reached,) = consensus.wait_for(decision_id, "DecisionReached", timeout_s=STARTUP_TIMEOUT_S)
        closed = [c.payload.why for c in consensus.events(decision_id, "RoundClosed")]
        assert "deadline passed" not in closed, "the round's deadline came before the restarted engine caught up"
        assert (reached.payload.choice, reached.payload.protocol) == ("yes", "supermajority")
        recorded = consensus.events(decision_id, "VoteRecorded")
        voters_recorded = [e.payload.voter for e in recorded]
        assert len(voters_recorded) == len(set(voters_recorded)) >= 4, "each vote recorded once, with one id"
        row, votes = consensus.read_model(decision_id, "reached")
        assert row["choice"] == "yes"
        assert sorted(v["voter"] for v in votes if v["status"] == "counted") == sorted(voters_recorded)
