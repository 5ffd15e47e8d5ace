"""The projector writes the event log, the read models and its offsets in one transaction: killed at any
moment and restarted, it leaves no row missing or doubled, and a rebuild from offset zero gives the same models."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest

from services.projector.crdt_state_store import BAD_CRDT_STATE
from services.projector.rebuild import REBUILT_TABLES, SECONDARY_INDEXES, rebuild
from services.projector.service import CRDT_GROUP, Projector
from shared.bus.producer import EventProducer
from shared.bus.topics import STATE_CRDT
from shared.crdt import fleet_state
from shared.crdt.g_counter import GCounter
from shared.crdt.replication import encode_state, state_key
from shared.db.connection import connect
from shared.db.schema import migrate
from shared.settings import Settings
from tests.conftest import unique
from tests.integration.kafka_helpers import wait_for
from tests.integration.projector_helpers import (
    goal_stream,
    projected_everything,
    publish_all,
    snapshot,
    snapshot_differences,
    valid_event_ids_in_kafka,
)

pytestmark = pytest.mark.integration


def run_projector(settings: Settings, url: str) -> tuple[Projector, threading.Thread]:
    projector = Projector(settings, url, max_batch=500)
    thread = threading.Thread(target=projector.run, daemon=True)
    thread.start()
    return projector, thread


@pytest.mark.timeout(180)
def test_a_goal_stream_arrives_in_the_read_models(
    settings: Settings, producer: EventProducer, new_database: Callable[[], str]
) -> None:
    url = new_database()
    goal_id = unique("g")
    events = goal_stream(goal_id, tasks=3)
    publish_all(producer, events)
    producer.publish_raw("architect.goals.events", goal_id.encode(), b"{broken json")
    producer.flush()
    projector, thread = run_projector(settings, url)
    try:
        wait_for(lambda: projected_everything(settings, url), timeout=60, message="projection to catch up")
        wait_for(lambda: _dead_letters_for(url, "architect-projector") >= 1, timeout=30, message="dead letter row")
    finally:
        projector.stop()
        thread.join(30)
    with connect(url) as conn:
        status, total, done = conn.execute(
            "SELECT status, tasks_total, tasks_succeeded FROM goals WHERE goal_id = %s", (goal_id,)
        ).fetchone()
        tasks = conn.execute(
            "SELECT task_id, status, tokens_used, depends_on FROM tasks WHERE goal_id = %s ORDER BY task_id", (goal_id,)
        ).fetchall()
        logged = conn.execute("SELECT count(*) FROM events WHERE correlation_id = %s", (goal_id,)).fetchone()[0]
    assert (status, total, done) == ("completed", 3, 3)
    assert [(t[1], t[2]) for t in tasks] == [("succeeded", 10), ("succeeded", 11), ("succeeded", 12)]
    assert tasks[2][3] == [f"{goal_id}:t0", f"{goal_id}:t1"]
    assert logged == len(events)


@pytest.mark.timeout(180)
def test_a_replayed_segment_is_not_applied_twice(
    settings: Settings, producer: EventProducer, new_database: Callable[[], str]
) -> None:
    url = new_database()
    goal_id = unique("g")
    events = goal_stream(goal_id, tasks=2)
    publish_all(producer, events)
    publish_all(producer, events)  # the same events (same ids) delivered again, as a duplicate segment
    projector, thread = run_projector(settings, url)
    try:
        wait_for(lambda: projected_everything(settings, url), timeout=60, message="projection to catch up")
    finally:
        projector.stop()
        thread.join(30)
    with connect(url) as conn:
        logged = conn.execute("SELECT count(*) FROM events WHERE correlation_id = %s", (goal_id,)).fetchone()[0]
    assert logged == len(events)


@pytest.mark.timeout(240)
def test_a_database_restored_under_a_running_projector_is_caught_up_again(
    settings: Settings, producer: EventProducer, new_database: Callable[[], str]
) -> None:
    """Positions going back under the projector (a restore from an older backup) make it re-read from them."""
    url = new_database()
    first, second = unique("g"), unique("g")
    publish_all(producer, goal_stream(first, tasks=2))
    projector, thread = run_projector(settings, url)
    try:
        wait_for(lambda: projected_everything(settings, url), timeout=90, message="first catch-up")
        with connect(url) as conn:  # the "backup" had nothing: every row and position gone
            conn.execute("TRUNCATE events, goals, tasks, agents, approvals, projector_offsets")
        publish_all(producer, goal_stream(second, tasks=2))
        wait_for(lambda: projected_everything(settings, url), timeout=120, message="catch-up after the restore")
    finally:
        projector.stop()
        thread.join(30)
    with connect(url) as conn:
        statuses = dict(conn.execute("SELECT goal_id, status FROM goals WHERE goal_id IN (%s, %s)", (first, second)))
    assert statuses == {first: "completed", second: "completed"}


@pytest.mark.timeout(420)
def test_killing_the_projector_between_batches_loses_and_doubles_nothing(
    settings: Settings, producer: EventProducer, new_database: Callable[[], str]
) -> None:
    url = new_database()
    goals = [unique("kill") for _ in range(150)]
    stop_publishing = threading.Event()

    def publish_steadily() -> None:
        for goal_id in goals:
            if stop_publishing.is_set():
                return
            publish_all(producer, goal_stream(goal_id, tasks=4))

    publisher = threading.Thread(target=publish_steadily, daemon=True)
    publisher.start()
    env = os.environ | {
        "ARCHITECT_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "DATABASE_URL": url,
        "ARCHITECT_PROJECTOR_MAX_BATCH": "100",
        "ARCHITECT_LOG_LEVEL": "WARNING",
    }
    kills = 0
    try:
        for _ in range(4):
            proc = subprocess.Popen([sys.executable, "-m", "services.projector"], env=env)
            time.sleep(4)
            assert proc.poll() is None, "projector exited on its own"
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            kills += 1
        publisher.join(120)
        final = subprocess.Popen([sys.executable, "-m", "services.projector"], env=env)
        try:
            wait_for(lambda: projected_everything(settings, url), timeout=180, message="final catch-up")
        finally:
            final.terminate()
            assert final.wait(30) == 0, "projector did not stop gracefully on SIGTERM"
    finally:
        stop_publishing.set()

    assert kills == 4
    in_kafka = valid_event_ids_in_kafka(settings)
    with connect(url) as conn:
        rows = conn.execute("SELECT event_id::text FROM events").fetchall()
        duplicated_dead_letters = conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM dead_letters GROUP BY source_topic, source_partition, "
            "source_offset, consumer_group HAVING count(*) > 1) d"
        ).fetchone()[0]
        unfinished = conn.execute(
            "SELECT count(*) FROM goals WHERE goal_id = ANY(%s) AND status <> 'completed'", (goals,)
        ).fetchone()[0]
    logged = [r[0] for r in rows]
    assert len(logged) == len(set(logged)), "an event was written twice"
    assert set(logged) == in_kafka, "the event log differs from the valid events in Kafka"
    assert unfinished == 0
    assert duplicated_dead_letters == 0

    before = snapshot(url)
    report = rebuild(settings, url, batch_size=1000)
    assert report.events_written == len(in_kafka)
    after = snapshot(url)
    assert after == before, f"read models differ from a fresh rebuild:\n{snapshot_differences(before, after)}"


@pytest.mark.timeout(180)
def test_rebuild_reports_progress_and_restores_dropped_rows(
    settings: Settings, producer: EventProducer, new_database: Callable[[], str]
) -> None:
    url = new_database()
    with connect(url, autocommit=True) as conn:
        migrate(conn)
    migrated = _indexes_of_rebuilt_tables(url)
    goal_id = unique("g")
    publish_all(producer, goal_stream(goal_id, tasks=2))
    seen: list[tuple[int, int]] = []
    report = rebuild(settings, url, batch_size=200, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1] >= report.events_read > 0
    with connect(url) as conn:
        assert conn.execute("SELECT status FROM goals WHERE goal_id = %s", (goal_id,)).fetchone()[0] == "completed"
        conn.execute("DELETE FROM goals")
        conn.commit()
    rebuild(settings, url)
    with connect(url) as conn:
        assert conn.execute("SELECT status FROM goals WHERE goal_id = %s", (goal_id,)).fetchone()[0] == "completed"
    # The rebuild drops every secondary index of the tables it loads and builds each again, as migrated.
    assert {name for name, _, primary in migrated if not primary} == set(SECONDARY_INDEXES)
    assert _indexes_of_rebuilt_tables(url) == migrated


def _indexes_of_rebuilt_tables(url: str) -> set[tuple[str, str, bool]]:
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid), indisprimary FROM pg_index "
            "WHERE indrelid::regclass::text = ANY(%s)",
            (list(REBUILT_TABLES),),
        ).fetchall()
    return {(name, definition, primary) for name, definition, primary in rows}


def _dead_letters_for(url: str, group: str) -> int:
    with connect(url) as conn:
        return conn.execute("SELECT count(*) FROM dead_letters WHERE consumer_group = %s", (group,)).fetchone()[0]


@pytest.mark.timeout(180)
def test_a_record_on_the_crdt_topic_that_is_no_state_is_dead_lettered_and_the_states_around_it_projected(
    settings: Settings, producer: EventProducer, new_database: Callable[[], str]
) -> None:
    """Before, such a record (the right type, the wrong shape) raised out of the batch's write, every retry failed
    the same way, and the loop skipped the whole batch: the good states beside it never reached the tables."""
    url = new_database()
    agent = unique("crdt-dlq")
    name = fleet_state.completed_counter("agent", agent)
    key = state_key(name, "rt-a")
    poison = json.dumps({"object": name, "replica": "rt-a", "type": "GCounter", "state": {"counts": [7]}}).encode()
    for value in (
        encode_state(name, "rt-a", GCounter().increment("rt-a", 2))[1],
        poison,
        encode_state(name, "rt-a", GCounter().increment("rt-a", 5))[1],
    ):  # one key: one partition, one after the other, so one batch as a rule
        producer.publish_raw(STATE_CRDT, key, value)
    producer.flush()

    projector, thread = run_projector(settings, url)
    try:
        wait_for(lambda: _completed(url, agent) == 5, timeout=60, message="the counter's later state projected")
        wait_for(lambda: _dead_letters_with_value(url, poison) == 1, timeout=60, message="the dead letter's row")
    finally:
        projector.stop()
        thread.join(30)
    assert thread.is_alive() is False
    with connect(url) as conn:
        reason, error, topic, group = conn.execute(
            "SELECT reason, error, source_topic, consumer_group FROM dead_letters WHERE value = %s", (poison,)
        ).fetchone()
    assert (reason, topic, group) == (BAD_CRDT_STATE, STATE_CRDT, CRDT_GROUP)
    assert "not a CRDT state record" in error and "AttributeError" in error


def _completed(url: str, agent: str) -> int | None:
    with connect(url) as conn:
        row = conn.execute("SELECT completed FROM task_counters WHERE name = %s", (agent,)).fetchone()
    return row[0] if row else None


def _dead_letters_with_value(url: str, value: bytes) -> int:
    with connect(url) as conn:
        return conn.execute("SELECT count(*) FROM dead_letters WHERE value = %s", (value,)).fetchone()[0]
