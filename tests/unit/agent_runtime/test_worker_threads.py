"""Backends run on reused threads, and a task never waits behind a busy (or hung) one."""

from __future__ import annotations

import threading
import time

from services.agent_runtime.worker_threads import WorkerThreads


def wait_until(check, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def runs(workers: WorkerThreads) -> bool:
    """Whether a job submitted now runs (within 5 s)."""
    done = threading.Event()
    workers.submit(done.set)
    return done.wait(5)


def test_jobs_one_after_another_reuse_one_thread() -> None:
    workers = WorkerThreads("t")
    ran: list[str] = []
    for n in range(20):
        done = threading.Event()
        workers.submit(lambda n=n, done=done: (ran.append(threading.current_thread().name), done.set()))
        assert done.wait(5)
        wait_until(lambda: workers._idle == 1)  # the worker is back waiting before the next job comes
    assert len(ran) == 20 and len(set(ran)) == 1
    assert workers.threads_started == 1


def test_a_job_never_waits_behind_a_busy_worker() -> None:
    workers = WorkerThreads("t")
    release = threading.Event()
    started = threading.Semaphore(0)

    def hang() -> None:
        started.release()
        release.wait(10)

    for _ in range(3):
        workers.submit(hang)
    for _ in range(3):
        assert started.acquire(timeout=5)  # all three run at once: none waited for another to end
    assert runs(workers)
    assert workers.threads_started == 4
    release.set()


def test_a_job_that_raises_does_not_end_its_worker() -> None:
    workers = WorkerThreads("t")

    def fail() -> None:
        raise RuntimeError("boom")

    workers.submit(fail)
    wait_until(lambda: workers._idle == 1)
    assert runs(workers)
    assert workers.threads_started == 1


def test_idle_workers_end_and_new_jobs_still_run() -> None:
    workers = WorkerThreads("idle", idle_s=0.05)
    assert runs(workers)
    wait_until(lambda: workers._idle == 1)
    wait_until(lambda: workers._idle == 0)  # idle past idle_s: the worker ended
    assert not [t for t in threading.enumerate() if t.name.startswith("idle-")]
    assert runs(workers)
    assert workers.threads_started == 2


def test_many_jobs_at_once_all_run() -> None:
    workers = WorkerThreads("t", idle_s=0.01)
    count = 0
    lock = threading.Lock()
    all_done = threading.Event()

    def job() -> None:
        nonlocal count
        with lock:
            count += 1
            if count == 500:
                all_done.set()

    for n in range(500):
        workers.submit(job)
        if n % 50 == 0:
            time.sleep(0.02)  # let some workers go idle and end between bursts
    assert all_done.wait(10)
    assert count == 500
