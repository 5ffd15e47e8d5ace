"""Done-means of the event backbone: a malformed record written with Kafka's own console producer (not our
client) lands in the dead-letter topic with its reason and source position, and the consumer keeps going."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from shared.bus.consumer import ConsumerLoop, Delivery
from shared.bus.producer import EventProducer
from shared.events.catalogue.goals import SubmitGoal
from shared.events.codec import encode, new_event
from shared.events.envelope import Envelope
from shared.infra.kafka_broker import LocalKafka
from shared.settings import Settings
from tests.conftest import unique
from tests.infra_fixtures import TEST_KAFKA_NAME, TEST_KAFKA_PORT
from tests.integration.kafka_helpers import create_topic, dead_letters_from, running, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

CONSOLE_PRODUCER = "org.apache.kafka.tools.ConsoleProducer"


def java() -> str:
    """The JVM the local broker runs on; a missing one fails the test with the reason (never a skip)."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home) / "bin" / "java" if java_home else None
    found = str(candidate) if candidate and candidate.is_file() else shutil.which("java")
    assert found, "Java is not on PATH: Kafka's console producer needs Java 17+"
    return found


def console_produce(bootstrap: str, topic: str, lines: list[str]) -> None:
    """Feed ``lines`` to ``kafka-console-producer`` (``headers<TAB>key<TAB>value`` each) and wait for it."""
    libs = LocalKafka(TEST_KAFKA_NAME, TEST_KAFKA_PORT).fetch()
    command = [
        java(),
        "-Xmx128m",
        "-XX:TieredStopAtLevel=1",
        "-XX:+UseSerialGC",
        "-cp",
        f"{libs}/*",
        CONSOLE_PRODUCER,
        "--bootstrap-server",
        bootstrap,
        "--topic",
        topic,
        "--request-required-acks",
        "all",
        "--property",
        "parse.key=true",
        "--property",
        "parse.headers=true",
    ]
    result = subprocess.run(
        command, input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"console producer failed (exit {result.returncode}):\n{result.stderr[-3000:]}"


def goal(goal_id: str) -> Envelope[Any]:
    return new_event(
        SubmitGoal(goal_id=goal_id, goal_type="fix_bug"), producer="console", stream_id=goal_id, correlation_id=goal_id
    )


def test_malformed_records_from_the_console_producer_are_dead_lettered_and_the_consumer_keeps_going(
    settings: Settings, producer: EventProducer
) -> None:
    topic = create_topic(settings, unique("test.console"))
    group = unique("console")
    first, last = goal(unique("g")), goal(unique("g"))
    unknown_type = dict(json.loads(encode(first)), type="LaunchRockets", event_id=str(last.event_id))
    wrong_schema = dict(json.loads(encode(first)), payload={"goal_id": first.stream_id, "priority": "urgent"})
    lines = [
        f"origin:console\t{first.stream_id}\t{encode(first).decode()}",
        "origin:console\tsome-key\tthis is { not json",
        f"origin:console\t{first.stream_id}\t{json.dumps(unknown_type)}",
        f"origin:console\t{first.stream_id}\t{json.dumps(wrong_schema)}",
        f"origin:console\t{last.stream_id}\t{encode(last).decode()}",
    ]
    expected_letters = {  # source offset -> (reason, original value)
        1: ("not_json", b"this is { not json"),
        2: ("unknown_type", json.dumps(unknown_type).encode()),
        3: ("schema_invalid", json.dumps(wrong_schema).encode()),
    }

    handled: list[Delivery] = []
    loop = ConsumerLoop(settings, group_id=group, topics=[topic], producer=producer, handler=handled.append)
    with running(loop):  # consuming before, during and after the console producer writes
        console_produce(settings.kafka_bootstrap_servers, topic, lines)
        wait_for(lambda: len(handled) == 2, message="both valid events handled")
        wait_for(lambda: len(dead_letters_from(settings, group)) == 3, message="three dead letters")

    assert [d.envelope.event_id for d in handled] == [first.event_id, last.event_id]
    assert [d.record.offset for d in handled] == [0, 4], "the valid event after the bad ones was processed too"
    assert handled[1].record.header("origin") == "console"

    letters = {d.source_offset: d for d in dead_letters_from(settings, group)}
    assert set(letters) == set(expected_letters)
    for offset, (reason, value) in expected_letters.items():
        letter = letters[offset]
        assert letter.reason == reason
        assert letter.error, "the dead letter says what was wrong"
        assert (letter.source_topic, letter.source_partition) == (topic, 0)
        assert letter.consumer_group == group
        assert letter.value == value, "the original bytes are kept"
        assert ("origin", b"console") in letter.original_headers
    assert letters[1].key == b"some-key"
    assert "not JSON" in letters[1].error
    assert "LaunchRockets" in letters[2].error
    assert "goal_type" in letters[3].error or "priority" in letters[3].error
