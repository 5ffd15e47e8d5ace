"""File-edit locks and CRDT replication on the real broker: the lock manager runs as a process and decides in
the log order of architect.locks.commands; agents read its leases from their own CRDT replicas. Two agents
asking for the same file at the same instant never both get it; replicas updating a shared counter and
session set concurrently converge.

The lock manager uses a fixed consumer group id: run this module on a broker of its own, e.g.
``ARCHITECT_TEST_KAFKA_NAME=consensus ARCHITECT_TEST_KAFKA_PORT=25792``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from services.locks.lock_table import FILE_LOCKS, live_lease
from shared.bus.producer import EventProducer
from shared.crdt.g_counter import GCounter
from shared.crdt.or_set import ORSet
from shared.crdt.replica import Replica
from shared.events.catalogue.locks import AcquireLock, ReleaseLock
from shared.events.codec import new_event
from shared.events.envelope import Payload
from shared.infra.stack import LocalStack
from shared.settings import Settings

STARTUP_TIMEOUT_S = 120.0


@pytest.fixture(scope="module")
def lock_stack(settings: Settings, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    directory = tmp_path_factory.mktemp("locks")
    env = {"ARCHITECT_TOPIC_PARTITIONS": str(settings.topic_partitions), "ARCHITECT_DATA_DIR": str(directory)}
    stack = LocalStack(settings.kafka_bootstrap_servers, database_url, directory / "logs", extra_env=env)
    try:
        stack.start_all(["locks"])
        yield stack
    finally:
        print(f"\nlock manager stopped (exit codes {stack.stop()}); logs in {stack.log_dir}")


def send(producer: EventProducer, path: str, payload: Payload) -> None:
    producer.publish(new_event(payload, producer="tests", stream_id=path, correlation_id=path))
    producer.flush()


def settled(path: str, *request_ids: str) -> Any:
    """The lease on ``path`` once every one of ``request_ids`` was decided (holding it, or refused)."""

    def check(grants: Any) -> Any:
        lease = grants.get(path)
        if not isinstance(lease, dict):
            return None
        decided = {lease.get("request_id"), *lease.get("denied", [])}
        return lease if set(request_ids) <= decided else None

    return check


def test_two_agents_asking_to_edit_the_same_file_at_once_never_both_get_the_lock(
    lock_stack: LocalStack, settings: Settings
) -> None:
    path = f"src/{uuid.uuid4().hex[:8]}/app.py"
    agents = {"alice": f"alice-{uuid.uuid4().hex[:6]}", "bob": f"bob-{uuid.uuid4().hex[:6]}"}
    producers = {agent: EventProducer(settings, client_id=f"lock-test-{agent}") for agent in agents}
    replicas = {agent: Replica(settings, f"runtime-{agent}").start() for agent in agents}
    barrier = threading.Barrier(len(agents))

    def ask(agent: str) -> None:
        barrier.wait()
        send(producers[agent], path, AcquireLock(path=path, agent_id=agent, request_id=agents[agent], lease_s=60))

    try:
        threads = [threading.Thread(target=ask, args=(agent,)) for agent in agents]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        seen = {
            agent: replica.wait_until(FILE_LOCKS, settled(path, *agents.values()), STARTUP_TIMEOUT_S)
            for agent, replica in replicas.items()
        }
        holder = seen["alice"]["holder"]
        loser = "bob" if holder == "alice" else "alice"
        assert holder in agents and seen["alice"] == seen["bob"], "both replicas see the same single holder"
        assert seen["alice"]["request_id"] == agents[holder] and seen["alice"]["denied"] == [agents[loser]]

        send(producers[holder], path, ReleaseLock(path=path, agent_id=holder, request_id=agents[holder]))
        replicas[loser].wait_until(FILE_LOCKS, lambda grants: path not in grants or None, 30)
        retry = f"{agents[loser]}-again"
        send(producers[loser], path, AcquireLock(path=path, agent_id=loser, request_id=retry, lease_s=60))
        lease = replicas[holder].wait_until(FILE_LOCKS, settled(path, retry), 30)
        assert lease["holder"] == loser and live_lease(replicas[holder].get(FILE_LOCKS), path, 0) is not None
    finally:
        for replica in replicas.values():
            replica.close()
        for producer in producers.values():
            producer.close()


def test_replicas_updating_shared_state_concurrently_converge(settings: Settings) -> None:
    tag = uuid.uuid4().hex[:8]
    counter, sessions = f"tasks-completed-{tag}", f"sessions-{tag}"
    replicas = [Replica(settings, f"replica-{n}-{tag}").start() for n in range(3)]
    increments = 20

    def work(replica: Replica) -> None:
        for n in range(increments):
            replica.update(counter, lambda c: (c or GCounter()).increment(replica.replica_id), flush=False)
            if n % 5 == 0:
                replica.update(
                    sessions, lambda s, n=n: (s or ORSet()).add(f"{replica.replica_id}", f"{n}"), flush=False
                )
        replica.update(sessions, lambda s: (s or ORSet()).remove(f"{replica.replica_id}"))

    try:
        threads = [threading.Thread(target=work, args=(replica,)) for replica in replicas]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        total = increments * len(replicas)
        for replica in replicas:
            replica.wait_until(counter, lambda c: c.value == total or None, 60)
            replica.wait_until(sessions, lambda s: s.elements == set() or None, 60)
        views = [(r.get(counter).to_dict(), r.get(sessions).to_dict()) for r in replicas]
        assert views[0] == views[1] == views[2]
    finally:
        for replica in replicas:
            replica.close()


def test_deferred_updates_publish_each_object_once_and_a_filtered_replica_skips_other_objects(
    settings: Settings,
) -> None:
    tag = uuid.uuid4().hex[:8]
    counter, other = f"coalesced-{tag}/count", f"ignored-{tag}/count"
    with (
        Replica(settings, f"writer-{tag}") as writer,
        Replica(settings, f"reader-{tag}", objects=(f"coalesced-{tag}/",)) as reader,
        Replica(settings, f"all-{tag}") as everything,
    ):
        for task in ("t1", "t2", "t3", "t2"):  # t2 twice: counted once
            writer.update(counter, lambda c, t=task: (c or GCounter()).increment(writer.replica_id, key=t), defer=True)
            writer.update(other, lambda c: (c or GCounter()).increment(writer.replica_id), defer=True)
        assert writer.get(counter).value == 3  # the writer's own view has every change at once
        assert writer.publish_pending() == 2  # one record per changed object, with its latest state
        assert writer.publish_pending() == 0
        writer.flush()
        assert reader.wait_until(counter, lambda c: c.value == 3 or None, 60)
        assert everything.wait_until(other, lambda c: c.value == 4 or None, 60)
        assert reader.get(other) is None  # not followed: skipped undecoded
        writer.update(counter, lambda c: c.increment(writer.replica_id, key="t4"), defer=True)
        writer.flush()  # flush publishes what deferred updates changed
        assert everything.wait_until(counter, lambda c: c.value == 4 or None, 60)


def test_wait_until_reports_a_state_that_never_comes(settings: Settings) -> None:
    with Replica(settings, f"impatient-{uuid.uuid4().hex[:6]}") as replica, pytest.raises(TimeoutError):
        replica.wait_until(f"nothing-{uuid.uuid4().hex}", lambda state: state, 1.0)


def architect(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"ARCHITECT_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers, "COLUMNS": "400"}
    command = [sys.executable, "-m", "shared.cli.main", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=90, check=False)


def test_the_cli_acquires_refuses_lists_and_releases_locks(lock_stack: LocalStack, settings: Settings) -> None:
    path = f"docs/{uuid.uuid4().hex[:8]}.md"
    granted = architect(settings, "locks", "acquire", path, "--as", "alice", "--lease", "120")
    assert granted.returncode == 0 and f"granted {path} to alice" in granted.stdout, granted.stderr
    refused = architect(settings, "locks", "acquire", path, "--as", "bob")
    assert refused.returncode == 3 and "held by alice" in refused.stdout, refused.stderr
    listed = architect(settings, "locks", "list", "--live")
    assert listed.returncode == 0 and path in listed.stdout and "alice" in listed.stdout
    assert architect(settings, "locks", "release", path, "--as", "alice").returncode == 0
    again = architect(settings, "locks", "acquire", path, "--as", "bob")
    assert again.returncode == 0 and f"granted {path} to bob" in again.stdout, again.stderr
