"""The assigner's compacted state on the real broker: what a task leaves in it, and what a restart restores.

A task runs through the real assigner and agent runtime. Its entry in ``architect.assigner.state`` is written
when it is assigned and once more when it finishes, as its finished marker (one record, no tombstone and
marker of its own); the attempt's start is not written. A second assigner restored from the topic knows the
task as finished, so the same TaskCreated delivered again is not dispatched a second time.

An agent whose runtime stopped gets no more work at once (its runtime says so with AgentStopped), not only when
its heartbeats time out.
"""

from __future__ import annotations

import json
import time

import pytest

from services.assigner.service import FINISHED_AT, TASK_PREFIX
from services.assigner.settings import AssignerSettings
from shared.bus.producer import EventProducer
from shared.bus.reader import read_to_end
from shared.bus.state_positions import OFFSETS_PREFIX
from shared.bus.topics import AGENTS_EVENTS, ASSIGNER_STATE, TASKS_EVENTS
from shared.settings import Settings
from tests.conftest import unique
from tests.integration.agent_runtime_helpers import (
    EventTail,
    echo_agent,
    fleet,
    running_assigner,
    running_runtime,
    task_created,
)
from tests.integration.kafka_helpers import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def test_a_finished_task_leaves_one_marker_and_a_restored_assigner_does_not_run_it_again(
    settings: Settings, producer: EventProducer
) -> None:
    tag = unique("assigner-state")
    capability, goal_id = f"cap-{tag}", f"goal-{tag}"
    first, second = task_created(goal_id, "build", capability), task_created(goal_id, "test", capability)
    task_id = first.payload.task_id
    tasks = EventTail(settings, [TASKS_EVENTS])
    try:
        with running_runtime(settings, fleet(f"rt-{tag}", echo_agent(f"worker-{tag}", capabilities=[capability]))):
            with running_assigner(settings) as assigner:
                # Otherwise the task may be read before the agent's registration and be stored pending first.
                agent = f"worker-{tag}"
                wait_for(lambda: assigner.registry.get(agent) is not None, timeout=60, message=f"{agent} registered")
                producer.publish(first)
                producer.flush()
                tasks.wait_for("TaskSucceeded", task_id=task_id, timeout=60)

            written = [
                (record.key.decode(), None if record.value is None else json.loads(record.value))
                for record in read_to_end(settings, [ASSIGNER_STATE])
                if record.key is not None and task_id in record.key.decode()
            ]
            assert {key for key, _ in written} == {f"{TASK_PREFIX}{task_id}"}, f"one key, no marker apart: {written}"
            values = [value for _, value in written]
            assert all(value is not None for value in values), "the entry is never deleted on finishing"
            assert len(values) == 2, f"written when assigned, then when finished: {values}"
            assert values[0]["state"] == "assigned", "the start is kept in memory only"
            assert set(values[1]) == {FINISHED_AT}, "the last record is the finished marker"
            # The positions it read to are state records too, one per partition, committed with the batches.
            stored = {
                record.key.decode(): json.loads(record.value)["next"]
                for record in read_to_end(settings, [ASSIGNER_STATE])
                if record.key is not None and record.key.startswith(OFFSETS_PREFIX.encode()) and record.value
            }
            tasks_positions = {
                key: at for key, at in stored.items() if key.startswith(f"{OFFSETS_PREFIX}{TASKS_EVENTS}:")
            }
            assert tasks_positions and all(at > 0 for at in tasks_positions.values()), stored

            with running_assigner(settings) as restored:
                wait_for(lambda: task_id in restored.finished, timeout=60, message="the restored finished marker")
                assert task_id not in restored.tasks
                resumed = {f"{OFFSETS_PREFIX}{t}:{p}": at for (t, p), at in restored.offsets.positions().items()}
                assert all(resumed.get(key, -1) >= at for key, at in stored.items()), "it resumes where they were"
                # Delivered again (e.g. an orchestrator re-emitting after a crash), then a new task of the same
                # goal behind it in the same partition: once that one is done, the first was seen again.
                producer.publish(first)
                producer.publish(second)
                producer.flush()
                tasks.wait_for("TaskSucceeded", task_id=second.payload.task_id, timeout=60)
        assert len(tasks.matching("TaskAssigned", task_id=task_id)) == 1, "a finished task is not dispatched again"
    finally:
        tasks.close()


def test_an_agent_whose_runtime_stopped_gets_no_work_though_its_last_heartbeat_is_recent(
    settings: Settings, producer: EventProducer
) -> None:
    tag = unique("stopped")
    capability, goal_id = f"cap-{tag}", f"goal-{tag}"
    # Equal load: least-loaded routing breaks the tie by agent id, so it would pick the stopped "a-" agent.
    stopping, staying = f"a-{tag}", f"b-{tag}"
    created = task_created(goal_id, "build", capability)
    tasks = EventTail(settings, [TASKS_EVENTS])
    agents = EventTail(settings, [AGENTS_EVENTS])
    try:
        with (
            running_assigner(settings) as assigner,
            running_runtime(settings, fleet(f"rt-b-{tag}", echo_agent(staying, capabilities=[capability]))),
        ):
            with running_runtime(settings, fleet(f"rt-a-{tag}", echo_agent(stopping, capabilities=[capability]))):
                wait_for(
                    lambda: {a.agent_id for a in assigner.registry.alive(time.time())} >= {stopping, staying},
                    timeout=60,
                    message="both agents alive",
                )
                both_alive_at = time.time()
            (stopped,) = agents.wait_for("AgentStopped", agent_id=stopping, timeout=30)
            assert stopped.payload.reason == f"runtime rt-a-{tag} stopped"
            wait_for(
                lambda: not assigner.registry.is_alive(stopping, time.time()),
                timeout=10,
                message="the stopped agent taken out of routing",
            )
            producer.publish(created)
            producer.flush()
            (assigned,) = tasks.wait_for("TaskAssigned", task_id=created.payload.task_id, timeout=30)
            tasks.wait_for("TaskSucceeded", task_id=created.payload.task_id, timeout=30)
        assert assigned.occurred_at.timestamp() - both_alive_at < 15, "assigned within the heartbeat timeout"
        assert assigned.payload.agent_id == staying
    finally:
        tasks.close()
        agents.close()


def test_a_finished_marker_of_its_own_key_is_still_known_and_expires_under_that_key(
    settings: Settings, producer: EventProducer
) -> None:
    """Markers written before a finished task's entry became its marker (``finished/<task id>``, the time alone)."""
    task_id = f"goal-{unique('legacy')}/build"
    producer.publish_raw(ASSIGNER_STATE, f"finished/{task_id}".encode(), json.dumps(time.time() - 5).encode())
    producer.flush()

    def written() -> list[tuple[str, bytes | None]]:
        return [
            (record.key.decode(), record.value)
            for record in read_to_end(settings, [ASSIGNER_STATE])
            if record.key is not None and task_id in record.key.decode()
        ]

    with running_assigner(settings, AssignerSettings(finished_retention_s=10.0)) as service:
        wait_for(lambda: task_id in service.finished, timeout=5, message="the marker restored as finished")
        assert task_id not in service.tasks
        wait_for(lambda: len(written()) == 2, timeout=30, message="the expired marker's tombstone")
        assert task_id not in service.finished
    assert written()[-1] == (f"finished/{task_id}", None), "deleted under the key it was kept under, not task/"
