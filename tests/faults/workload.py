"""A steady workload of goals and sagas, and waiting until each one ends as it should.

Every goal is a ``fix_bug`` goal (five tasks in sequence) that must complete. Sagas run the ``order``
definition; every third one is asked to fail its last step (``fail_operators``) and must end compensated, the
others must complete. Expected outcomes are recorded at submission and checked against the read models.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from psycopg.rows import dict_row

from shared.bus.producer import EventProducer
from shared.bus.topics import GOALS_COMMANDS
from shared.db.connection import connect
from shared.events.catalogue.goals import SubmitGoal
from shared.events.catalogue.sagas import StartSaga
from shared.events.codec import new_event
from shared.settings import Settings
from tests.faults.fleet import GOAL_TYPE

GOAL_DONE = ("completed", "failed", "cancelled")
SAGA_DONE = ("completed", "compensated", "failed")


@dataclass
class Workload:
    settings: Settings
    saga_definition: str
    tag: str
    goals: dict[str, str] = field(default_factory=dict)
    """goal id -> the status it must end in."""
    sagas: dict[str, str] = field(default_factory=dict)
    """saga id -> the status it must end in."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def submit_goal(self, producer: EventProducer) -> str:
        goal_id = f"fg-{self.tag}-{uuid.uuid4().hex[:8]}"
        with self._lock:
            self.goals[goal_id] = "completed"
        command = SubmitGoal(goal_id=goal_id, goal_type=GOAL_TYPE, title="fault workload")
        producer.publish(
            new_event(command, producer="fault-tests", stream_id=goal_id, correlation_id=goal_id), topic=GOALS_COMMANDS
        )
        producer.flush()
        return goal_id

    def start_saga(self, producer: EventProducer, *, failing: bool = False) -> str:
        saga_id = f"fs-{self.tag}-{uuid.uuid4().hex[:8]}"
        with self._lock:
            self.sagas[saga_id] = "compensated" if failing else "completed"
        params: dict[str, Any] = {"fail_operators": ["ship"]} if failing else {}
        command = StartSaga(saga_id=saga_id, definition=self.saga_definition, params=params, started_by="fault-tests")
        producer.publish(new_event(command, producer="fault-tests", stream_id=saga_id, correlation_id=saga_id))
        producer.flush()
        return saga_id

    def burst(self, producer: EventProducer, goals: int, sagas: int) -> None:
        for n in range(max(goals, sagas)):
            if n < goals:
                self.submit_goal(producer)
            if n < sagas:
                self.start_saga(producer, failing=n % 3 == 2)

    @contextmanager
    def steady(self, period_s: float = 1.0) -> Iterator[None]:
        """Submit a goal and start a saga every ``period_s`` in a thread until the block ends (publishing waits
        out a broker that is down, as a client would)."""
        stopping = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            producer = EventProducer(self.settings, client_id="fault-workload")
            try:
                n = 0
                while not stopping.is_set():
                    self.submit_goal(producer)
                    self.start_saga(producer, failing=n % 3 == 2)
                    n += 1
                    stopping.wait(period_s)
            except BaseException as error:  # surfaced when the block ends
                errors.append(error)
            finally:
                producer.close()

        thread = threading.Thread(target=run, name="fault-workload", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stopping.set()
            thread.join(150)
        assert not thread.is_alive(), "the workload thread did not stop (a publish hung for 150 s)"
        assert not errors, f"the workload failed to publish: {errors[0]!r}"

    def ids(self) -> list[str]:
        with self._lock:
            return [*self.goals, *self.sagas]

    # -- outcomes -------------------------------------------------------------------------------------------
    def unfinished(self, url: str) -> list[str]:
        """Goals and sagas not yet in a terminal state in the read models (unreachable database: all)."""
        with self._lock:
            goals, sagas = dict(self.goals), dict(self.sagas)
        try:
            with connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
                goal_rows = cur.execute(
                    "SELECT goal_id, status FROM goals WHERE goal_id = ANY(%s)", (list(goals),)
                ).fetchall()
                saga_rows = cur.execute(
                    "SELECT saga_id, status FROM sagas WHERE saga_id = ANY(%s)", (list(sagas),)
                ).fetchall()
        except Exception:
            return [*goals, *sagas]
        done = {r["goal_id"] for r in goal_rows if r["status"] in GOAL_DONE}
        done |= {r["saga_id"] for r in saga_rows if r["status"] in SAGA_DONE}
        return [i for i in [*goals, *sagas] if i not in done]

    def wrong_outcomes(self, url: str) -> list[str]:
        """Goals and sagas that ended otherwise than expected (goals must have every task succeeded)."""
        with self._lock:
            goals, sagas = dict(self.goals), dict(self.sagas)
        with connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
            goal_rows = cur.execute("SELECT * FROM goals WHERE goal_id = ANY(%s)", (list(goals),)).fetchall()
            saga_rows = cur.execute("SELECT * FROM sagas WHERE saga_id = ANY(%s)", (list(sagas),)).fetchall()
        wrong = [
            f"goal {r['goal_id']}: {r['status']} ({r['reason']}), {r['tasks_succeeded']}/{r['tasks_total']} tasks"
            for r in goal_rows
            if r["status"] != goals[r["goal_id"]] or r["tasks_succeeded"] != r["tasks_total"]
        ]
        wrong += [
            f"saga {r['saga_id']}: {r['status']}, expected {sagas[r['saga_id']]} ({r.get('reason')})"
            for r in saga_rows
            if r["status"] != sagas[r["saga_id"]]
        ]
        return wrong


def wait_until(what: str, check: Callable[[], Any], timeout_s: float, *, alive: Callable[[], None]) -> Any:
    """Poll ``check`` until truthy; ``alive`` raises when a service died."""
    deadline = time.monotonic() + timeout_s
    while True:
        alive()
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g}s waiting for {what}")
        time.sleep(0.3)
