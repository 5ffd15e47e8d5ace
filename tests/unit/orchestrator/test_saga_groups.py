"""A goal's method marks steps as a saga: the domain checks it, the orchestrator starts one StartSaga for the group
once what it waits for succeeded, and the saga's end (relayed as GoalSagaEnded) is the group's outcome."""

from __future__ import annotations

from typing import Any

import pytest

from services.orchestrator import saga_groups
from services.orchestrator.decider import Context, Decision, Delayed, decide
from services.orchestrator.goal_record import GoalRecord
from services.orchestrator.htn import InvalidDomain, Plan, PlannedTask
from services.orchestrator.htn.domain_file import load_domain_text
from services.saga_coordinator.coordinator import decide as coordinator_decide
from services.saga_coordinator.definitions import parse_definition
from shared.events.catalogue.goals import CancelGoal, GoalSagaEnded, SubmitGoal
from shared.events.catalogue.sagas import SagaCompensated, SagaCompleted, SagaStarted
from shared.events.catalogue.tasks import TaskSucceeded
from shared.events.codec import new_event
from shared.events.envelope import Envelope

DOMAIN = """
operators:
  - {name: build, capability: code}
  - {name: deploy, capability: deploy}
  - {name: undeploy, capability: deploy}
  - {name: smoke, capability: test}
  - {name: announce, capability: docs}
methods:
  - name: ship_it
    task: ship
    steps:
      - {id: build, task: build}
      - {id: deploy, task: deploy, saga: release, compensation: undeploy, inputs: {env: "${env}"}}
      - {id: smoke, task: smoke, saga: release}
      - {id: announce, task: announce}
"""
FLEET = frozenset({"code", "deploy", "test", "docs"})


def ctx() -> Context:
    return Context(domain=load_domain_text(DOMAIN), fleet_capabilities=FLEET, now=100.0)


def cmd(payload: Any, stream: str = "g1") -> Envelope[Any]:
    return new_event(payload, producer="test", stream_id=stream, correlation_id=stream)


def emitted(decision: Decision, kind: str) -> list[Envelope[Any]]:
    return [o for o in decision.emit if not isinstance(o, Delayed) and o.type == kind]


def submitted_and_built() -> tuple[Decision, Context]:
    c = ctx()
    decision = decide(None, cmd(SubmitGoal(goal_id="g1", goal_type="ship", params={"env": "staging"})), c)
    (build,) = emitted(decision, "TaskCreated")
    done = TaskSucceeded(task_id=build.payload.task_id, goal_id="g1", agent_id="a1", attempt=1)
    return decide(decision.record, cmd(done), c), c


def test_the_saga_group_starts_as_one_saga_once_the_step_before_it_succeeded() -> None:
    decision, _ = submitted_and_built()
    assert emitted(decision, "TaskCreated") == []  # deploy and smoke are not released one by one
    (start,) = emitted(decision, "StartSaga")
    assert start.stream_id == start.payload.saga_id == "g1/saga/r0/release"  # keyed as the coordinator expects
    assert start.payload.params == {"env": "staging"}
    definition = parse_definition(start.payload.definition_body)  # the coordinator's own validation accepts it
    assert [(s.name, s.action.name, s.action.params) for s in definition.steps] == [
        ("s1_deploy", "deploy", {"env": "staging"}),
        ("s2_smoke", "smoke", {}),
    ]
    assert definition.steps[0].compensation is not None and definition.steps[0].compensation.name == "undeploy"
    assert definition.steps[0].compensation.required_capability == "deploy"
    assert definition.steps[1].compensation is None
    assert {decision.record.progress.task(s).state for s in ("deploy", "smoke")} == {"released"}


def test_a_completed_saga_succeeds_its_steps_and_the_goal_goes_on() -> None:
    decision, c = submitted_and_built()
    ended = GoalSagaEnded(goal_id="g1", saga_id="g1/saga/r0/release", saga="release", outcome="completed")
    after = decide(decision.record, cmd(ended), c)
    assert [t.payload.task_id for t in emitted(after, "TaskCreated")] == ["g1/announce"]
    assert decide(after.record, cmd(ended), c).emit == []  # a redelivered end changes nothing
    done = TaskSucceeded(task_id="g1/announce", goal_id="g1", agent_id="a1", attempt=1)
    assert emitted(decide(after.record, cmd(done), c), "GoalCompleted")


def test_a_compensated_saga_fails_the_goal_naming_the_step_and_what_was_undone() -> None:
    decision, c = submitted_and_built()
    ended = GoalSagaEnded(
        goal_id="g1",
        saga_id="g1/saga/r0/release",
        saga="release",
        outcome="compensated",
        failed_step="s2_smoke",
        compensated_steps=["s1_deploy"],
    )
    after = decide(decision.record, cmd(ended), c)
    (failed,) = emitted(after, "GoalFailed")
    assert failed.payload.failed_task_id == "g1/smoke"
    assert "saga 'release' compensated at step smoke" in failed.payload.reason
    assert failed.payload.reason.endswith("undone: deploy")
    assert after.record.status == "failed" and emitted(after, "TaskCreated") == []


def test_the_end_of_a_saga_of_another_plan_revision_is_ignored() -> None:
    decision, c = submitted_and_built()
    stale = GoalSagaEnded(goal_id="g1", saga_id="g1/saga/r3/release", saga="release", outcome="failed")
    assert decide(decision.record, cmd(stale), c).emit == []


def test_cancelling_the_goal_aborts_its_running_saga_after_the_start_on_the_same_key() -> None:
    decision, c = submitted_and_built()
    (start,) = emitted(decision, "StartSaga")
    cancel = cmd(CancelGoal(goal_id="g1", reason="not needed", requested_by="ops"))
    cancelled = decide(decision.record, cancel, c)
    assert [o.type for o in cancelled.emit] == ["GoalCancelled", "AbortSaga"]
    (abort,) = emitted(cancelled, "AbortSaga")
    # Keyed like the StartSaga sent before it: the coordinator reads the start first, in the same partition.
    assert abort.stream_id == start.stream_id == abort.payload.saga_id == "g1/saga/r0/release"
    assert (abort.payload.reason, abort.payload.requested_by) == ("goal cancelled: not needed", "orchestrator")
    assert emitted(decide(decision.record, cancel, c), "AbortSaga")[0].event_id == abort.event_id, "redelivery"
    assert decide(cancelled.record, cancel, c).emit == [], "a cancelled goal cancels nothing more"

    # The coordinator accepts the command for the saga the StartSaga started, and aborts it.
    definitions = {start.payload.definition: parse_definition(start.payload.definition_body)}
    saga = coordinator_decide(None, start, 100.0, definitions)
    aborting = coordinator_decide(saga.record, abort, 101.0, definitions)
    (aborted,) = [o for o in aborting.emit if getattr(o, "type", "") == "SagaAborted"]
    assert aborted.payload.reason == "goal cancelled: not needed"


def test_the_goal_record_keeps_its_running_sagas_of_every_revision_and_cancelling_aborts_them_all() -> None:
    decision, c = submitted_and_built()
    record = decision.record
    assert record.running_sagas == ("g1/saga/r0/release",)
    assert GoalRecord.from_dict(record.to_dict()) == record
    ended = GoalSagaEnded(goal_id="g1", saga_id="g1/saga/r0/release", saga="release", outcome="completed")
    assert decide(record, cmd(ended), c).record.running_sagas == ()

    # Re-planned meanwhile (revision 1, no saga of its own yet): the first revision's saga still runs.
    replanned = record.with_(revision=1, plan=None, progress=None, status="planning")
    cancelled = decide(replanned, cmd(CancelGoal(goal_id="g1")), c)
    assert [(o.type, o.stream_id) for o in cancelled.emit] == [
        ("GoalCancelled", "g1"),
        ("AbortSaga", "g1/saga/r0/release"),
    ]
    assert cancelled.record.running_sagas == ()
    # An earlier revision's saga that ends is dropped from the record all the same.
    assert decide(replanned, cmd(ended), c).record.running_sagas == ()

    # A record kept by the previous version lists no sagas: the current revision's running one is still found.
    old = GoalRecord.from_dict({k: v for k, v in record.to_dict().items() if k != "running_sagas"})
    (abort,) = emitted(decide(old, cmd(CancelGoal(goal_id="g1")), c), "AbortSaga")
    assert abort.stream_id == "g1/saga/r0/release"
    assert "running_sagas" not in submitted_and_built()[0].record.with_(running_sagas=()).to_dict(), "only when some"


def test_a_cancelled_goal_aborts_no_saga_that_ended_or_never_started() -> None:
    c = ctx()
    submitted = decide(None, cmd(SubmitGoal(goal_id="g1", goal_type="ship", params={"env": "staging"})), c)
    before = decide(submitted.record, cmd(CancelGoal(goal_id="g1")), c)
    assert [o.type for o in before.emit] == ["GoalCancelled"], "the saga waits for build: not started"

    decision, c = submitted_and_built()
    ended = GoalSagaEnded(goal_id="g1", saga_id="g1/saga/r0/release", saga="release", outcome="completed")
    after = decide(decide(decision.record, cmd(ended), c).record, cmd(CancelGoal(goal_id="g1", reason="x")), c)
    assert [o.type for o in after.emit] == ["GoalCancelled"], "the saga completed: nothing to abort"
    (abort,) = emitted(decide(decision.record, cmd(CancelGoal(goal_id="g1")), c), "AbortSaga")
    assert abort.payload.reason == "goal cancelled"


def test_saga_ends_are_relayed_to_their_goal_and_other_sagas_are_not() -> None:
    completed = cmd(SagaCompleted(saga_id="g/1/saga/r2/release", steps_succeeded=2), stream="g/1/saga/r2/release")
    relayed = saga_groups.relay(completed)
    assert relayed is not None and relayed.type == "GoalSagaEnded"
    assert relayed.stream_id == "g/1" and relayed.payload.saga == "release" and relayed.payload.outcome == "completed"
    assert saga_groups.relay(completed).event_id == relayed.event_id  # the same id on a redelivery
    compensated = SagaCompensated(saga_id="g1/saga/r0/release", failed_step="s2_smoke", compensated_steps=["s1_deploy"])
    again = saga_groups.relay(cmd(compensated, stream="g1/saga/r0/release"))
    assert again is not None and again.payload.compensated_steps == ["s1_deploy"]
    assert saga_groups.relay(cmd(SagaCompleted(saga_id="order-7"), stream="order-7")) is None
    started = SagaStarted(saga_id="g1/saga/r0/release", definition="release", version=1, steps=[])
    assert saga_groups.relay(cmd(started, stream="g1/saga/r0/release")) is None


@pytest.mark.parametrize(
    ("saga_id", "parsed"),
    [
        ("g1/saga/r0/release", ("g1", 0, "release")),
        ("a/saga/b/saga/r12/x_1", ("a/saga/b", 12, "x_1")),
        ("g1/saga/release", None),
        ("/saga/r0/release", None),
        ("order-7", None),
    ],
)
def test_saga_ids_name_goal_revision_and_group(saga_id: str, parsed: tuple[str, int, str] | None) -> None:
    assert saga_groups.parse_saga_id(saga_id) == parsed


def plan(*tasks: PlannedTask) -> Plan:
    return Plan("t", "m", tasks)


def test_a_saga_waiting_for_itself_through_an_outside_step_with_a_gate_or_a_bad_name_is_refused() -> None:
    loop = plan(
        PlannedTask("a", "x", "c", saga="s"),
        PlannedTask("b", "x", "c", depends_on=("a",)),
        PlannedTask("c", "x", "c", depends_on=("b",), saga="s"),
    )
    assert saga_groups.problems(loop) == ["saga 's': step 'c' waits for 'b', which waits for the saga"]
    gated = plan(PlannedTask("a", "x", "c", saga="s", requires_approval=True))
    assert saga_groups.problems(gated) == ["saga 's': step 'a' requires approval"]
    badly_named = plan(PlannedTask("a", "x", "c", saga="Release 1"))
    assert saga_groups.problems(badly_named)[0].startswith("saga 'Release 1': a saga name is lowercase")
    fine = plan(PlannedTask("a", "x", "c", saga="s"), PlannedTask("b", "x", "c", depends_on=("a",), saga="s"))
    assert saga_groups.problems(fine) == []


def test_a_goal_whose_plan_has_a_saga_that_cannot_run_fails_at_once() -> None:
    between = """
  - name: build_between
    task: odd
    ordering: partial
    steps:
      - {id: deploy, task: deploy, saga: release}
      - {id: build, task: build, depends_on: [deploy]}
      - {id: smoke, task: smoke, depends_on: [build], saga: release}
"""
    c = Context(domain=load_domain_text(DOMAIN + between), fleet_capabilities=FLEET, now=100.0)
    decision = decide(None, cmd(SubmitGoal(goal_id="g1", goal_type="odd")), c)
    (failed,) = emitted(decision, "GoalFailed")
    assert "step 'smoke' waits for 'build', which waits for the saga" in failed.payload.reason
    assert emitted(decision, "TaskCreated") == emitted(decision, "StartSaga") == []


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ("{id: deploy, task: deploy, compensation: undeploy}", "a compensation needs the step to be in a saga"),
        ("{id: deploy, task: deploy, saga: release, compensation: nothing}", "unknown operator 'nothing'"),
        ("{id: deploy, task: deploy, saga: release, requires_approval: true}", "a saga step cannot require approval"),
    ],
)
def test_the_domain_refuses_compensations_outside_sagas_unknown_ones_and_gated_saga_steps(
    step: str, message: str
) -> None:
    text = DOMAIN.replace(
        '{id: deploy, task: deploy, saga: release, compensation: undeploy, inputs: {env: "${env}"}}', step
    )
    with pytest.raises(InvalidDomain, match=message):
        load_domain_text(text)
