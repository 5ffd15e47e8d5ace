"""Threads that run backends, reused from one task to the next (a cached thread pool).

The runtime used to start a thread per task. Starting one costs the loop thread a system call and a wait until
the new thread has run (two hand-overs of the GIL), for each of hundreds of tasks a second with a fleet of
zero-latency agents. Here a task goes to an idle worker if there is one, and only otherwise to a new thread, so
a task never waits for a worker: a backend that hangs past its timeout (its slot is given back) keeps its
thread, and the next task gets another. A worker idle for ``idle_s`` ends.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)
IDLE_S = 60.0


class WorkerThreads:
    def __init__(self, name: str, idle_s: float = IDLE_S) -> None:
        self._name = name
        self._idle_s = idle_s
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._started = 0

    @property
    def threads_started(self) -> int:
        return self._started

    def submit(self, job: Callable[[], None]) -> None:
        """Run ``job`` on an idle worker, or on a new one when none is idle."""
        with self._lock:
            if self._idle:
                self._idle -= 1  # that worker is spoken for: a second job at once gets a thread of its own
                spawn = 0
            else:
                self._started += 1
                spawn = self._started
        self._jobs.put(job)
        if spawn:
            threading.Thread(target=self._work, name=f"{self._name}-{spawn}", daemon=True).start()

    def _work(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=self._idle_s)
            except queue.Empty:
                with self._lock:
                    if self._idle == 0:
                        # A job was counted onto this idle worker just as it timed out: take it.
                        continue
                    self._idle -= 1
                    return
            try:
                job()
            except Exception:  # a job reports its own outcome; one that raises must not end the worker
                log.exception("a %s job raised", self._name)
            with self._lock:
                self._idle += 1
