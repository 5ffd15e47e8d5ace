"""A transactional consume-transform-produce loop carries on by itself after its broker restarts.

librdkafka's transactional producer can hang for good in ``send_offsets_to_transaction`` across a broker
restart (confluentinc/librdkafka#5456, #5511; the assigner did, in ``bench.recovery``). The loop's producer
moves to a new client instead (``shared.bus.transactional_client``): the process neither hangs nor exits, and
what it copies after the restart is committed exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer

from shared.bus.client_config import kafka_config
from shared.bus.producer import EventProducer
from shared.events.catalogue.goals import SubmitGoal
from shared.events.codec import decode, new_event
from shared.infra.kafka_broker import LocalKafka
from shared.settings import Settings
from tests.integration.kafka_helpers import create_topic, wait_for
from tests.ports import TRANSACTIONAL_RESTART_KAFKA

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
RESUME_WITHIN_S = 60.0


class Copies:
    """Reads the target topic (read_committed) in a thread: the goal ids copied, with when each was seen."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.seen: list[tuple[float, str]] = []
        self._stop = threading.Event()
        config = kafka_config(settings) | {
            "group.id": f"copies-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
        self._consumer = Consumer(config)
        self._consumer.subscribe([topic])
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for message in self._consumer.consume(500, 0.2):
                if message.error() is None:
                    self.seen.append((time.time(), decode(message.value(), message.key()).stream_id))

    def since(self, moment: float) -> list[str]:
        return [goal for at, goal in list(self.seen) if at >= moment]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._consumer.close()


def publish(producer: EventProducer, topic: str, number: int) -> str:
    goal_id = f"copy-{number}"
    producer.publish(
        new_event(
            SubmitGoal(goal_id=goal_id, goal_type="copy"), producer="test", stream_id=goal_id, correlation_id=goal_id
        ),
        topic=topic,
    )
    producer.flush(60)
    return goal_id


@pytest.mark.timeout(300)
def test_a_transactional_loop_resumes_by_itself_after_a_broker_restart(tmp_path: Path) -> None:
    kafka = LocalKafka("txn-restart", TRANSACTIONAL_RESTART_KAFKA)  # a broker of its own: this test restarts it
    bootstrap = kafka.start(clean=True)
    process: subprocess.Popen[bytes] | None = None
    try:
        settings = Settings(kafka_bootstrap_servers=bootstrap)
        source = create_topic(settings, "copy.source", partitions=3)
        target = create_topic(settings, "copy.target", partitions=3)
        log_path = tmp_path / "loop.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.integration.transactional_copy_app", bootstrap, "copy", source, target],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                env=os.environ.copy(),
            )
        copies = Copies(settings, target)
        producer = EventProducer(settings, client_id="copy-feeder")
        sent: list[str] = []
        try:
            sent.append(publish(producer, source, 0))
            wait_for(lambda: len(copies.since(0)) == 1, timeout=90, message="the first copy")
            # Keep the loop busy in transactions while the broker goes away and comes back.
            for number in range(1, 40):
                sent.append(publish(producer, source, number))
                time.sleep(0.02)
            kafka.stop()
            time.sleep(3)
            kafka.start()
            back = time.time()
            after = publish(producer, source, 1000)
            sent.append(after)

            def copied_after_restart() -> bool:
                assert process is not None and process.poll() is None, (
                    f"the loop exited ({process.returncode if process else '?'}):\n{log_path.read_text()[-3000:]}"
                )
                return after in copies.since(back)

            wait_for(copied_after_restart, timeout=RESUME_WITHIN_S, message="a copy made after the broker restart")
            wait_for(lambda: {goal for _, goal in copies.seen} == set(sent), timeout=30, message="every copy")
            counts = [goal for _, goal in copies.seen]
            assert len(counts) == len(set(counts)), "a record was copied twice into committed output"
        finally:
            copies.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0, log_path.read_text()[-3000:]
    finally:
        if process is not None and process.poll() is None:
            process.kill()
        kafka.stop()
