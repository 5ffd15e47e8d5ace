"""The faust-streaming wrapper (shared/bus/faust_stream.py) gives faust apps the consumer loop's guarantees:
decode and validate, dead-letter bad records with reason and source position, retry a failing handler and
dead-letter it when it keeps failing, publish derived events, commit what was handled and stop on SIGTERM.

The app (tests/integration/faust_probe_app.py) runs in its own process: faust owns its event loop and signals.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, ConsumerGroupState, KafkaException, TopicPartition

from shared.bus.bootstrap import admin_client, ensure_topics
from shared.bus.client_config import kafka_config
from shared.bus.partitioning import changelog_topic
from shared.bus.producer import EventProducer
from shared.bus.reader import read_to_end
from shared.bus.topics import GOALS_EVENTS, TableSpec
from shared.events.catalogue.goals import SubmitGoal
from shared.events.codec import DecodeError, decode, encode, new_event
from shared.events.envelope import Envelope
from shared.settings import Settings
from tests.conftest import unique
from tests.integration.faust_probe_app import ANSWERED_BY
from tests.integration.kafka_helpers import create_topic, dead_letters_from, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
#: The table of the probe runs that have one.
PROBE_TABLE = "goals"

REPO = Path(__file__).resolve().parents[2]
ORIGIN = ("origin", b"faust-test")


class ProbeApp:
    """The probe app as a child process, writing the ids it handled to a file per run."""

    def __init__(self, settings: Settings, app_id: str, topic: str, workdir: Path) -> None:
        self.settings, self.app_id, self.topic, self.workdir = settings, app_id, topic, workdir
        self.runs = 0
        self.env: dict[str, str] = {}  # more of the probe's settings (PROBE_TABLE, PROBE_DECLARE)
        self.process: subprocess.Popen[bytes] | None = None
        self.output = workdir / "none"

    def start(self) -> None:
        self.runs += 1
        self.output = self.workdir / f"run-{self.runs}.handled"
        self.output.touch()
        env = (
            os.environ.copy()
            | {
                "ARCHITECT_KAFKA_BOOTSTRAP_SERVERS": self.settings.kafka_bootstrap_servers,
                "ARCHITECT_TOPIC_PARTITIONS": str(self.settings.topic_partitions),
                "ARCHITECT_DATA_DIR": str(self.workdir / "data"),
                "PROBE_APP_ID": self.app_id,
                "PROBE_TOPIC": self.topic,
                "PROBE_HANDLED_FILE": str(self.output),
            }
            | self.env
        )
        with (self.workdir / f"run-{self.runs}.log").open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.integration.faust_probe_app"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO,
            )

    def handled(self) -> list[str]:
        """Event ids the current run has handled, in order."""
        self.assert_alive()
        return self.output.read_text().split()

    def assert_alive(self) -> None:
        assert self.process is not None and self.process.poll() is None, f"the faust app died:\n{self.log()}"

    def log(self) -> str:
        return (self.workdir / f"run-{self.runs}.log").read_text()[-4000:]

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM, then wait for a clean exit."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"the faust app ignored SIGTERM for {timeout:.0f}s:\n{self.log()}") from None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def probe(settings: Settings, tmp_path: Path) -> Iterator[ProbeApp]:
    topic = create_topic(settings, unique("test.faust"))
    app = ProbeApp(settings, unique("faust-probe"), topic, tmp_path)
    yield app
    app.kill()
    # Our unique topic, the one faust's partition assignor made for this app id and the probe table's changelog.
    admin = admin_client(settings)
    internal = [f"{app.app_id}-__assignor-__leader", changelog_topic(app.app_id, PROBE_TABLE)]
    for future in admin.delete_topics([topic, *internal], operation_timeout=30).values():
        with contextlib.suppress(KafkaException):  # the assignor topic and the changelog may not exist
            future.result(30)


def command(goal_type: str) -> Envelope[Any]:
    goal_id = unique("faust-goal")
    return new_event(
        SubmitGoal(goal_id=goal_id, goal_type=goal_type), producer="test", stream_id=goal_id, correlation_id=goal_id
    )


def poison_records(valid: Envelope[Any]) -> dict[str, tuple[bytes, bytes]]:
    """(key, value) of a bad record per rejection reason."""
    raw = json.loads(encode(valid))
    return {
        "not_json": (b"some-key", b"\xff{ definitely not json"),
        "unknown_type": (valid.stream_id.encode(), json.dumps(dict(raw, type="LaunchRockets")).encode()),
        "schema_invalid": (valid.stream_id.encode(), json.dumps(dict(raw, payload={"goal_type": 7})).encode()),
        "wrong_key": (b"not-the-stream", encode(valid)),
    }


def answers(settings: Settings) -> dict[str, Envelope[Any]]:
    """GoalSubmitted events the probe published, by the id of the command that caused them."""
    found = {}
    for record in read_to_end(settings, [GOALS_EVENTS]):
        if record.value is None or ANSWERED_BY.encode() not in record.value:
            continue
        try:
            event = decode(record.value, record.key)
        except DecodeError:
            continue
        if event.producer == ANSWERED_BY:
            found[str(event.causation_id)] = event
    return found


def test_valid_events_are_handled_and_bad_ones_dead_lettered_with_their_source(
    settings: Settings, producer: EventProducer, probe: ProbeApp
) -> None:
    first, flaky, explode, refuse, last = (command(t) for t in ("fix_bug", "flaky", "explode", "refuse", "fix_bug"))
    producer.publish(first, topic=probe.topic)
    poison = poison_records(first)
    for key, value in poison.values():
        producer.publish_raw(probe.topic, key, value, [ORIGIN])
    for event in (flaky, explode, refuse, last):
        producer.publish(event, topic=probe.topic)
    producer.flush()
    # offsets: 0 first, 1-4 poison, 5 flaky, 6 explode, 7 refuse, 8 last
    expected_reasons = {1: "not_json", 2: "unknown_type", 3: "schema_invalid", 4: "wrong_key"}
    expected_reasons |= {6: "handler_error", 7: "refused"}

    probe.start()
    answered = [str(e.event_id) for e in (first, flaky, last)]
    wait_for(lambda: probe.handled() == answered, timeout=120, message="the three answerable commands handled")
    wait_for(
        lambda: len(dead_letters_from(settings, probe.app_id)) == len(expected_reasons),
        timeout=60,
        message="every bad record dead-lettered",
    )

    letters = {d.source_offset: d for d in dead_letters_from(settings, probe.app_id)}
    assert {offset: d.reason for offset, d in letters.items()} == expected_reasons
    for offset, letter in letters.items():
        assert (letter.source_topic, letter.source_partition) == (probe.topic, 0)
        assert letter.error, f"dead letter at source offset {offset} says nothing"
    for offset, reason in list(expected_reasons.items())[:4]:
        key, value = poison[reason]
        assert (letters[offset].key, letters[offset].value) == (key, value), "the original bytes are kept"
        assert ORIGIN in letters[offset].original_headers, "the original headers are kept"
    assert "boom on attempt 5" in letters[6].error, "a failing handler is retried before it is dead-lettered"
    assert letters[6].value == encode(explode)
    assert "refuses" in letters[7].error

    published = answers(settings)
    for cause in (first, flaky, last):
        answer = published[str(cause.event_id)]
        assert answer.type == "GoalSubmitted" and answer.stream_id == cause.stream_id
        assert answer.correlation_id == cause.correlation_id
    assert str(explode.event_id) not in published and str(refuse.event_id) not in published

    assert probe.terminate() == 0, f"the faust app did not exit cleanly on SIGTERM:\n{probe.log()}"


def test_a_restarted_app_resumes_after_what_it_had_handled(
    settings: Settings, producer: EventProducer, probe: ProbeApp
) -> None:
    before = command("fix_bug")
    producer.publish(before, topic=probe.topic)
    producer.flush()
    probe.start()
    wait_for(lambda: probe.handled() == [str(before.event_id)], timeout=120, message="the first command handled")
    assert probe.terminate() == 0, probe.log()

    while_down = command("fix_bug")
    producer.publish(while_down, topic=probe.topic)
    producer.publish_raw(probe.topic, b"k", b"not json either", [ORIGIN])
    producer.flush()
    probe.start()
    wait_for(lambda: str(while_down.event_id) in probe.handled(), timeout=120, message="the new command handled")
    wait_for(lambda: len(dead_letters_from(settings, probe.app_id)) == 1, message="the new poison record")
    assert probe.handled() == [str(while_down.event_id)], "what the first run handled was committed, not redone"
    (letter,) = dead_letters_from(settings, probe.app_id)
    assert (letter.reason, letter.source_offset) == ("not_json", 2)
    assert probe.terminate() == 0, probe.log()


def committed_and_end(settings: Settings, group: str, topic: str) -> tuple[int, int]:
    """The group's committed offset on partition 0 of ``topic`` (-1 when none), and the partition's end offset."""
    consumer = Consumer(kafka_config(settings) | {"group.id": group})
    try:
        (committed,) = consumer.committed([TopicPartition(topic, 0)], timeout=10)
        _, end = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        return max(committed.offset, -1), end
    finally:
        consumer.close()


def test_only_committed_transactions_are_handled_and_offsets_move_past_their_markers(
    settings: Settings, probe: ProbeApp
) -> None:
    """faust apps read committed records only (``shared.bus.faust_committed``): records of an aborted
    transaction are never handled. Each transaction leaves a marker, an offset faust never sees; the committed
    offset still reaches the last handled record at once (it used to move past one marker per commit interval and
    fall ever further behind), stopping only before the marker that ends the partition."""
    transactional = EventProducer(settings, client_id="faust-txn-test", transactional_id=unique("faust-txn"))
    committed_ids: list[str] = []

    def transaction(size: int, abort: bool = False) -> None:
        transactional.begin()
        events = [command("fix_bug") for _ in range(size)]
        for event in events:
            transactional.publish(event, topic=probe.topic)
        if abort:
            transactional.flush()  # on the broker, then aborted: a read_uncommitted consumer would see them
            transactional.abort()
        else:
            transactional.commit()
            committed_ids.extend(str(e.event_id) for e in events)

    for _ in range(12):
        transaction(3)
    transaction(2, abort=True)
    transaction(3)
    probe.start()
    wait_for(lambda: probe.handled() == committed_ids, timeout=120, message="the committed commands handled")
    _, end = committed_and_end(settings, probe.app_id, probe.topic)
    # faust commits every 2.8 s: within a few commits, all but the marker that ends the partition.
    wait_for(
        lambda: committed_and_end(settings, probe.app_id, probe.topic)[0] == end - 1,
        timeout=10,
        message=f"the committed offset at {end - 1}, before the final transaction marker only",
    )

    transaction(3)  # the next record takes the committed offset past that marker too
    wait_for(lambda: probe.handled() == committed_ids, timeout=60, message="the last transaction handled")
    wait_for(
        lambda: committed_and_end(settings, probe.app_id, probe.topic)[0] == end + 3,
        timeout=60,
        message="the committed offset past the earlier marker",
    )
    assert probe.handled() == committed_ids, "nothing of the aborted transaction was handled"
    assert probe.terminate() == 0, probe.log()


def group_is_stable(settings: Settings, group: str) -> bool:
    """Whether ``group`` has members with their partitions assigned (the leader has taken its metadata)."""
    admin = admin_client(settings)  # must outlive the future
    (future,) = admin.describe_consumer_groups([group], request_timeout=10).values()
    try:
        description = future.result(15)
    except KafkaException:
        return False
    return description.state == ConsumerGroupState.STABLE and bool(description.members)


def test_a_changelog_missing_from_the_consumer_s_metadata_holds_a_record_back_but_never_dead_letters_it(
    settings: Settings, producer: EventProducer, probe: ProbeApp
) -> None:
    """The start-up race of bench/results/recovery.md, made certain: the table's changelog exists on the broker but
    not in the metadata the consumer took when it joined (there faust created it at start-up, just too late; here
    faust may not create topics and the test creates it once the group has formed). faust then reads the
    changelog as one of 0 partitions and refuses every table write with ``PartitionsMismatch`` until the next
    metadata refresh, 5 minutes later; every record in between used to be dead-lettered. Now the handler's failure
    counts as transient: the consumer fetches the metadata again and the record is handled."""
    probe.env = {"PROBE_TABLE": PROBE_TABLE, "PROBE_DECLARE": "0"}
    probe.start()
    wait_for(lambda: group_is_stable(settings, probe.app_id), timeout=120, message="the probe's group formed")
    # The broker may have made it already, on the consumer's first metadata request (auto.create.topics.enable).
    ensure_topics(settings, (), tables=(TableSpec(probe.app_id, PROBE_TABLE, (probe.topic,), keyed_by="goal_id"),))
    event = command("fix_bug")
    producer.publish(event, topic=probe.topic)
    producer.flush()

    wait_for(lambda: probe.handled() == [str(event.event_id)], timeout=60, message="the command handled")
    assert "PartitionsMismatch" in probe.log(), "the race did not happen: the consumer saw the changelog"
    assert dead_letters_from(settings, probe.app_id) == [], "a good record was dead-lettered"
    assert str(event.event_id) in answers(settings)
    assert probe.terminate() == 0, probe.log()


def test_a_table_s_changelog_made_by_the_topic_bootstrap_is_ready_for_the_first_record(
    settings: Settings, producer: EventProducer, probe: ProbeApp
) -> None:
    """The topic bootstrap creates the tables' changelogs with the other topics (``ensure_topics(tables=...)``):
    a faust app started afterwards finds its changelog in its consumer's first metadata and handles a record
    published right after its start, without a ``PartitionsMismatch`` on the way."""
    table = TableSpec(probe.app_id, PROBE_TABLE, (probe.topic,), keyed_by="goal_id")
    (state,) = ensure_topics(settings, (), tables=(table,))
    assert (state.name, state.partitions, state.cleanup_policy, state.created) == (
        table.changelog,
        1,
        "compact",
        True,
    )
    probe.env = {"PROBE_TABLE": PROBE_TABLE}
    probe.start()
    event = command("fix_bug")
    producer.publish(event, topic=probe.topic)
    producer.flush()

    wait_for(lambda: probe.handled() == [str(event.event_id)], timeout=120, message="the command handled")
    assert dead_letters_from(settings, probe.app_id) == []
    assert "PartitionsMismatch" not in probe.log()
    assert probe.terminate() == 0, probe.log()


def test_a_second_topic_s_records_are_not_held_behind_the_first_topic_s_backlog(
    settings: Settings, producer: EventProducer, probe: ProbeApp
) -> None:
    """One agent fed by two topics (as the orchestrator's goal commands and task events): records arriving on the
    second while the first has a backlog are handled after a few small fetches of it, not after everything one
    fetch of faust's default 1 MB per partition brought (here ~2,950 of the 3,000 records, against ~550), nor
    after what faust's default stream buffer of 4,096 records let the consumer run ahead (~1,750 on 2026-11-29)."""
    other = create_topic(settings, unique("test.faust-other"))
    probe.env = {"PROBE_TOPIC": f"{probe.topic},{other}"}
    backlog = [command("fix_bug") for _ in range(3000)]
    for event in backlog:
        producer.publish(event, topic=probe.topic)
    producer.flush()
    probe.start()
    try:
        wait_for(lambda: len(probe.handled()) >= 50, timeout=120, message="the backlog under way")
        mark = len(probe.handled())
        late = [command("fix_bug") for _ in range(20)]
        for event in late:
            producer.publish(event, topic=other)
        producer.flush()
        late_ids = {str(event.event_id) for event in late}
        wait_for(lambda: late_ids <= set(probe.handled()), timeout=120, message="the second topic's records")
        handled = probe.handled()
        last_late = max(handled.index(event_id) for event_id in late_ids)
        assert last_late - mark < 1200, (
            f"{last_late - mark} records of the backlog were handled before the second topic's 20"
        )
        assert len(handled) < len(backlog), "the backlog was still being worked through meanwhile"
        assert probe.terminate() == 0, probe.log()
    finally:
        admin_client(settings).delete_topics([other], operation_timeout=30)
