"""Steady client traffic for the recovery and saga benchmarks: goals, sagas and decisions, as the gateway sends.

``Workload`` publishes, at fixed rates in a thread, SubmitGoal for ``bench_noop_goal`` (five no-op tasks),
StartSaga for ``bench_six_steps`` (six no-op steps, ``bench/sagas``) and RequestDecision (operational, one
voter who never votes: the consensus engine opens a round and waits). Ids are ``<run>-g<n>``, ``<run>-s<n>``,
``<run>-d<n>``; each goal's submission time is kept. Publishing never blocks the thread: while the broker is
away the producer queues, and a failed flush is counted, not raised.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from shared.bus.producer import EventProducer
from shared.events.catalogue.decisions import RequestDecision
from shared.events.catalogue.goals import SubmitGoal
from shared.events.catalogue.sagas import StartSaga
from shared.events.codec import new_event
from shared.events.envelope import Payload
from shared.settings import Settings

SAGAS_DIR = Path(__file__).resolve().parent / "sagas"
SAGA_DEFINITION = "bench_six_steps"
SAGA_STEPS = 6
GOAL_TYPE = "bench_noop_goal"
PRODUCER = "bench"


@dataclass(frozen=True)
class Rates:
    """Commands per second of each kind (0: none)."""

    goals: float = 2.0
    sagas: float = 1.0
    decisions: float = 1.0


def start_saga(saga_id: str) -> StartSaga:
    return StartSaga(saga_id=saga_id, definition=SAGA_DEFINITION, started_by=PRODUCER)


def submit_goal(goal_id: str) -> SubmitGoal:
    return SubmitGoal(goal_id=goal_id, goal_type=GOAL_TYPE, title="bench", submitted_by=PRODUCER)


def request_decision(decision_id: str) -> RequestDecision:
    return RequestDecision(
        decision_id=decision_id,
        question="keep going?",
        tier="operational",
        electorate=["bench-voter"],
        options=["yes", "no"],
        ballot_via="commands",
        requested_by=PRODUCER,
    )


@dataclass
class Workload:
    settings: Settings
    run: str
    rates: Rates
    goals_submitted: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: {"goals": 0, "sagas": 0, "decisions": 0})
    failed_flushes: int = 0

    def __post_init__(self) -> None:
        self._producer = EventProducer(self.settings, client_id=f"bench-workload-{self.run}")
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-workload", daemon=True)

    def start(self) -> Workload:
        self._thread.start()
        return self

    def publish(self, payload: Payload, stream_id: str) -> None:
        self._producer.publish(new_event(payload, producer=PRODUCER, stream_id=stream_id, correlation_id=stream_id))

    def _run(self) -> None:
        started = time.monotonic()
        kinds = [(kind, rate) for kind, rate in vars(self.rates).items() if rate > 0]
        last_flush = started
        while not self._stopping.is_set():
            elapsed = time.monotonic() - started
            for kind, rate in kinds:
                while self.counts[kind] < elapsed * rate:
                    self._send(kind, self.counts[kind])
                    self.counts[kind] += 1
            if time.monotonic() - last_flush > 1.0:
                last_flush = time.monotonic()
                try:
                    self._producer.flush(5)
                except Exception:
                    self.failed_flushes += 1
            self._stopping.wait(0.05)

    def _send(self, kind: str, number: int) -> None:
        if kind == "goals":
            goal_id = f"{self.run}-g{number}"
            self.goals_submitted[goal_id] = time.time()
            self.publish(submit_goal(goal_id), goal_id)
        elif kind == "sagas":
            saga_id = f"{self.run}-s{number}"
            self.publish(start_saga(saga_id), saga_id)
        else:
            decision_id = f"{self.run}-d{number}"
            self.publish(request_decision(decision_id), decision_id)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(10)
        try:
            self._producer.flush(10)
        except Exception:
            self.failed_flushes += 1
