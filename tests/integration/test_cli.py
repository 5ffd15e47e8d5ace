"""The `architect` CLI, run as a real process against the test broker and Postgres."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.bus.consumer import ConsumerLoop, Delivery, RejectRecord
from shared.bus.dead_letters import REDRIVE_COUNT
from shared.bus.producer import EventProducer
from shared.bus.reader import read_to_end
from shared.bus.record import Record
from shared.bus.topics import AGENTS_EVENTS, DEAD_LETTERS, GOALS_COMMANDS, TOPICS
from shared.db.connection import connect
from shared.events.catalogue import CATALOGUE
from shared.events.catalogue.agents import AgentHeartbeat
from shared.events.catalogue.goals import GoalPlanned, GoalSubmitted, PlannedTask, SubmitGoal
from shared.events.catalogue.tasks import TaskCreated, TaskSucceeded
from shared.events.codec import caused_by, encode, new_event
from shared.events.envelope import Envelope
from shared.settings import Settings
from tests.conftest import unique
from tests.integration.kafka_helpers import create_topic, dead_letters_from, running, wait_for
from tests.integration.projector_helpers import goal_stream, publish_all

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[2]


def architect(
    settings: Settings, *args: str, stdin: str | None = None, timeout: float = 120, database_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``architect ARGS`` in its own process, configured only through environment variables."""
    env = os.environ.copy() | {
        "ARCHITECT_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "DATABASE_URL": database_url or settings.database_url or "",
        "COLUMNS": "400",  # rich wraps and truncates tables to the terminal width
    }
    return subprocess.run(
        [sys.executable, "-m", "shared.cli.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
        check=False,
    )


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


def records_of(settings: Settings, topic: str, match: Callable[[Record], bool]) -> list[Record]:
    return [r for r in read_to_end(settings, [topic]) if match(r)]


def mentions(text: str) -> Callable[[Record], bool]:
    return lambda record: record.value is not None and text.encode() in record.value


def submit_goal(goal_id: str) -> Envelope[Any]:
    return new_event(
        SubmitGoal(goal_id=goal_id, goal_type="fix_bug"), producer="cli-test", stream_id=goal_id, correlation_id=goal_id
    )


def heartbeat(agent_id: str, correlation: str, tokens: int = 0) -> Envelope[Any]:
    return new_event(
        AgentHeartbeat(agent_id=agent_id, in_flight=0, tokens_used=tokens),
        producer="cli-test",
        stream_id=agent_id,
        correlation_id=correlation,
    )


def as_document(envelope: Envelope[Any]) -> dict[str, Any]:
    return json.loads(encode(envelope))


# -- topics ------------------------------------------------------------------------------------------------------


def test_topics_create_is_idempotent_and_list_shows_the_catalogue(settings: Settings) -> None:
    first = succeeded(architect(settings, "topics", "create"))
    second = succeeded(architect(settings, "topics", "create"))
    for spec in TOPICS:
        assert spec.name in first and spec.name in second
    assert "yes" not in second, "a second run must not create anything"

    listed = succeeded(architect(settings, "topics", "list"))
    rows = {line.split("│")[1].strip(): line for line in listed.splitlines() if line.count("│") >= 4}
    for spec in TOPICS:
        assert spec.name in rows, f"{spec.name} missing from `topics list`"
        assert spec.keyed_by in rows[spec.name]
    dead_letter_row = [cell.strip() for cell in rows[DEAD_LETTERS].split("│")]
    assert dead_letter_row[2] == "1", "the dead-letter topic has one partition"


# -- events publish ----------------------------------------------------------------------------------------------


def test_publish_a_file_and_stdin_puts_valid_events_on_their_topic(settings: Settings, tmp_path: Path) -> None:
    from_file, from_stdin = submit_goal(unique("cli-file")), submit_goal(unique("cli-stdin"))
    path = tmp_path / "event.json"
    path.write_text(json.dumps(as_document(from_file)))

    assert "published 1 event(s)" in succeeded(architect(settings, "events", "publish", str(path)))
    assert "published 1 event(s)" in succeeded(
        architect(settings, "events", "publish", "-", stdin=encode(from_stdin).decode() + "\n")
    )

    for event in (from_file, from_stdin):
        found = records_of(settings, GOALS_COMMANDS, mentions(str(event.event_id)))
        assert len(found) == 1, f"{event.stream_id} should be on {GOALS_COMMANDS} once"
        assert found[0].key == event.stream_id.encode()
        assert json.loads(found[0].value or b"")["event_id"] == str(event.event_id)


def invalid_inputs(valid: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Input that mixes a valid envelope with a bad one, and the message the CLI must give."""
    unknown_type = dict(valid, type="LaunchRockets")
    wrong_schema = dict(valid, payload={"goal_id": valid["payload"]["goal_id"], "goal_type": 7})
    return {
        "not_json": (json.dumps(valid) + "\n{this is not json\n", "line 2: not JSON"),
        "unknown_type": (json.dumps([valid, unknown_type]), "record 2: unknown_type"),
        "schema_invalid": (json.dumps([valid, wrong_schema]), "record 2: schema_invalid"),
    }


@pytest.mark.parametrize("problem", ["not_json", "unknown_type", "schema_invalid"])
@pytest.mark.parametrize("source", ["file", "stdin"])
def test_publish_rejects_bad_input_with_a_clear_message_and_publishes_nothing(
    settings: Settings, tmp_path: Path, problem: str, source: str
) -> None:
    valid = submit_goal(unique("cli-bad"))
    text, expected = invalid_inputs(as_document(valid))[problem]
    if source == "file":
        path = tmp_path / "events.json"
        path.write_text(text)
        result = architect(settings, "events", "publish", str(path))
    else:
        result = architect(settings, "events", "publish", "-", stdin=text)

    assert result.returncode != 0
    output = " ".join((result.stdout + result.stderr).split())  # rich may wrap long messages
    assert expected in output
    assert "error:" in result.stderr
    if problem != "not_json":
        assert "nothing was published" in output
    assert records_of(settings, GOALS_COMMANDS, mentions(valid.stream_id)) == []


def test_publish_reports_a_missing_file_and_empty_input(settings: Settings, tmp_path: Path) -> None:
    missing = architect(settings, "events", "publish", str(tmp_path / "nope.json"))
    assert missing.returncode != 0 and "cannot read" in missing.stderr
    empty = architect(settings, "events", "publish", "-", stdin="  \n")
    assert empty.returncode != 0 and "no events found" in empty.stderr


# -- events tail -------------------------------------------------------------------------------------------------


def test_tail_filters_by_type_and_correlation_and_stops_at_its_limit(
    settings: Settings, producer: EventProducer
) -> None:
    correlation, agent = unique("cli-tail"), unique("[bold]agent")  # brackets must not be taken for markup
    wanted = [heartbeat(agent, correlation, tokens=n) for n in range(2)]
    other_type = submit_goal(correlation)  # right correlation, wrong type
    other_goal = heartbeat(agent, unique("cli-tail-other"))  # right type, wrong correlation
    publish_all(producer, [wanted[0], other_type, other_goal])
    producer.publish_raw(AGENTS_EVENTS, agent.encode(), b"{not an envelope")  # reported on stderr, not stdout
    publish_all(producer, [wanted[1]])

    result = architect(
        settings,
        "events",
        "tail",
        "--type",
        "AgentHeartbeat",
        "--correlation",
        correlation,
        "--from-beginning",
        "--json",
        "--limit",
        "2",
        "--timeout",
        "90",
    )
    shown = [json.loads(line) for line in succeeded(result).splitlines() if line.strip()]
    assert sorted(e["event_id"] for e in shown) == sorted(str(e.event_id) for e in wanted)
    assert "invalid record architect.agents.events" in result.stderr

    readable = architect(
        settings,
        *("events", "tail", "--type", "AgentHeartbeat", "--correlation", correlation),
        *("--from-beginning", "--limit", "2", "--timeout", "90"),
    )
    lines = [line for line in succeeded(readable).splitlines() if line.strip()]
    assert len(lines) == 2
    for line, event in zip(lines, sorted(wanted, key=lambda e: str(e.event_id) in lines[1]), strict=True):
        assert "AgentHeartbeat" in line
        assert f"stream={agent} corr={correlation} id={event.event_id}" in line, "ids are printed as text"


def test_tail_follows_new_events_and_stops_at_its_timeout(settings: Settings, producer: EventProducer) -> None:
    correlation, agent = unique("cli-follow"), unique("agent")
    env = os.environ.copy() | {"ARCHITECT_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers}
    command = [sys.executable, "-m", "shared.cli.main", "events", "tail", "--correlation", correlation]
    follower = subprocess.Popen(
        [*command, "--json", "--limit", "1", "--timeout", "90"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        # It starts at the end of the log, so publish until it has joined and seen one of ours.
        published: set[str] = set()
        while follower.poll() is None and len(published) < 120:
            event = heartbeat(agent, correlation, tokens=len(published))
            publish_all(producer, [event])
            published.add(str(event.event_id))
            time.sleep(0.5)
        out, err = follower.communicate(timeout=30)
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 0, err
    shown = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert len(shown) == 1 and shown[0]["event_id"] in published

    started = time.monotonic()
    quiet = architect(settings, "events", "tail", "--correlation", unique("nothing"), "--timeout", "3")
    assert succeeded(quiet).strip() == ""
    assert time.monotonic() - started < 30, "--timeout must stop the tail"


# -- streams replay ----------------------------------------------------------------------------------------------


def goal_with_causes(goal_id: str) -> list[Envelope[Any]]:
    """Submitted -> planned -> two tasks created -> the first one succeeded, across two topics."""
    submitted = new_event(
        GoalSubmitted(goal_id=goal_id, goal_type="fix_bug"),
        producer="gateway",
        stream_id=goal_id,
        correlation_id=goal_id,
    )
    tasks = [f"{goal_id}:t0", f"{goal_id}:t1"]
    planned = caused_by(
        submitted,
        GoalPlanned(
            goal_id=goal_id,
            method="fix_bug",
            tasks=[PlannedTask(task_id=t, operator="code", capability="code") for t in tasks],
        ),
        producer="orchestrator",
        kind="planned",
    )
    created = [
        caused_by(
            planned,
            TaskCreated(task_id=t, goal_id=goal_id, operator="code", capability="code"),
            producer="orchestrator",
            kind=f"created:{t}",
        )
        for t in tasks
    ]
    done = caused_by(
        created[0],
        TaskSucceeded(task_id=tasks[0], goal_id=goal_id, agent_id="agent-1"),
        producer="agent-runtime",
        kind="succeeded",
    )
    return [submitted, planned, *created, done]


def test_streams_replay_shows_the_timeline_and_causal_tree_of_one_goal(
    settings: Settings, producer: EventProducer
) -> None:
    goal_id = unique("cli-replay")
    events = goal_with_causes(goal_id)
    publish_all(producer, list(reversed(events)))  # published out of order: the timeline reorders them
    publish_all(producer, goal_stream(unique("cli-replay-other"), tasks=1))

    output = succeeded(architect(settings, "streams", "replay", "--correlation", goal_id))
    timeline_part, _, tree_part = output.partition("causal tree")
    assert tree_part, output

    rows = [[c.strip() for c in line.split("│")] for line in timeline_part.splitlines() if line.count("│") >= 6]
    types = [row[3] for row in rows]
    assert types == ["GoalSubmitted", "GoalPlanned", "TaskCreated", "TaskCreated", "TaskSucceeded"]
    assert [row[1] for row in rows] == ["1", "2", "3", "4", "5"]
    assert "cli-replay-other" not in output

    tree = [line for line in tree_part.splitlines() if line.strip()]
    depth = {str(e.event_id): None for e in events}
    for line in tree:
        for event_id in depth:
            if event_id in line:
                depth[event_id] = (len(line) - len(line.lstrip())) // 2
    for event in events:
        (line,) = [x for x in tree if str(event.event_id) in x]
        assert f"{event.type}  [{event.producer}]" in line, "each node names its type and producer"
    submitted, planned, created_0, created_1, succeeded_0 = (str(e.event_id) for e in events)
    assert depth == {submitted: 0, planned: 1, created_0: 2, created_1: 2, succeeded_0: 3}
    assert (
        tree.index(next(x for x in tree if succeeded_0 in x)) == tree.index(next(x for x in tree if created_0 in x)) + 1
    ), "the success hangs under the task it completed"


def test_streams_replay_of_an_unknown_goal_fails_clearly(settings: Settings) -> None:
    result = architect(settings, "streams", "replay", "--correlation", unique("no-such-goal"))
    assert result.returncode != 0
    assert "no events with correlation id" in result.stderr


# -- dlq ---------------------------------------------------------------------------------------------------------


def test_dlq_list_show_and_redrive_a_poison_record(settings: Settings, producer: EventProducer) -> None:
    topic = create_topic(settings, unique("test.cli-dlq"))
    group = unique("cli-dlq")
    poison = f"{{not json {unique('poison')}".encode()
    producer.publish_raw(topic, b"some-key", poison, [("origin", b"cli-test")])
    producer.flush()
    loop = ConsumerLoop(settings, group_id=group, topics=[topic], producer=producer, handler=lambda _: None)
    with running(loop):
        wait_for(lambda: len(dead_letters_from(settings, group)) == 1, message="the poison record dead-lettered")
    (letter,) = dead_letters_from(settings, group)

    listed = succeeded(architect(settings, "dlq", "list", "--reason", "not_json", "--limit", "100000"))
    (row,) = [[c.strip() for c in line.split("│")] for line in listed.splitlines() if group in line]
    assert row[1:5] == [str(letter.offset), "not_json", f"{topic}[0]@0", group]

    shown = succeeded(architect(settings, "dlq", "show", str(letter.offset)))
    assert "not_json" in shown and "value is not JSON" in shown
    assert f"{topic}[0]@0" in shown and group in shown
    assert poison.decode() in shown and "origin" in shown

    missing = architect(settings, "dlq", "show", "999999999")
    assert missing.returncode != 0 and "no dead letter at offset 999999999" in missing.stderr
    nothing_named = architect(settings, "dlq", "redrive")
    assert nothing_named.returncode != 0 and "--all" in nothing_named.stderr

    assert "re-drove 1 dead letter(s)" in succeeded(architect(settings, "dlq", "redrive", str(letter.offset)))
    back = [r for r in read_to_end(settings, [topic]) if r.value == poison]
    assert len(back) == 2, "the original and its re-driven copy"
    redriven = back[1]
    assert redriven.key == b"some-key"
    assert redriven.header(REDRIVE_COUNT) == "1"
    assert redriven.header("origin") == "cli-test"

    # Still poison: a running consumer dead-letters the re-driven copy again and keeps going.
    after = submit_goal(unique("g"))
    producer.publish(after, topic=topic)
    producer.flush()
    handled: list[Delivery] = []
    again = ConsumerLoop(settings, group_id=group, topics=[topic], producer=producer, handler=handled.append)
    with running(again):
        wait_for(lambda: len(dead_letters_from(settings, group)) == 2, message="the re-driven copy dead-lettered")
        wait_for(lambda: len(handled) == 1, message="the valid event after it")
    second = max(dead_letters_from(settings, group), key=lambda d: d.offset)
    assert (second.reason, second.source_offset) == ("not_json", 1)
    assert (REDRIVE_COUNT, b"1") in second.original_headers
    assert handled[0].envelope.event_id == after.event_id


def test_dlq_show_prints_errors_and_headers_as_text_not_markup(settings: Settings, producer: EventProducer) -> None:
    topic = create_topic(settings, unique("test.cli-dlq"))
    group = unique("cli-dlq")
    event = submit_goal(unique("g"))
    producer.publish(event, topic=topic)
    producer.flush()

    def refuse(_: Delivery) -> None:
        raise RejectRecord("handler_error", "[Errno 111] refused by [bold]upstream[/bold]")

    loop = ConsumerLoop(settings, group_id=group, topics=[topic], producer=producer, handler=refuse)
    with running(loop):
        wait_for(lambda: len(dead_letters_from(settings, group)) == 1, message="the refused record dead-lettered")
    (letter,) = dead_letters_from(settings, group)

    shown = succeeded(architect(settings, "dlq", "show", str(letter.offset)))
    assert "[Errno 111] refused by [bold]upstream[/bold]" in shown
    listed = succeeded(architect(settings, "dlq", "list", "--reason", "handler_error", "--limit", "100000"))
    assert "[Errno 111] refused by [bold]upstream[/bold]" in listed


# -- projections rebuild -----------------------------------------------------------------------------------------


def test_projections_rebuild_prints_progress_and_restores_rows(
    settings: Settings, producer: EventProducer, new_database: Callable[[], str]
) -> None:
    url = new_database()
    goal_id = unique("cli-rebuild")
    publish_all(producer, goal_stream(goal_id, tasks=2))

    first = succeeded(architect(settings, "projections", "rebuild", database_url=url, timeout=300))
    assert "replaying events" in first and "rebuilt" in first
    done, total = map(int, re.search(r"replaying events\D*(\d+)/(\d+)", first).groups())  # type: ignore[union-attr]
    assert done == total > 0, "the progress bar ends at every record of the event topics"
    with connect(url) as conn:
        assert conn.execute("SELECT status FROM goals WHERE goal_id = %s", (goal_id,)).fetchone() == ("completed",)
        conn.execute("DELETE FROM tasks WHERE goal_id = %s", (goal_id,))
        conn.execute("DELETE FROM goals WHERE goal_id = %s", (goal_id,))
        conn.commit()

    second = succeeded(architect(settings, "projections", "rebuild", database_url=url, timeout=300))
    assert "rebuilt" in second
    with connect(url) as conn:
        assert conn.execute("SELECT status FROM goals WHERE goal_id = %s", (goal_id,)).fetchone() == ("completed",)
        statuses = conn.execute("SELECT status FROM tasks WHERE goal_id = %s", (goal_id,)).fetchall()
    assert statuses == [("succeeded",), ("succeeded",)]


def test_projections_rebuild_without_a_database_fails_clearly(settings: Settings) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {
        "ARCHITECT_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers
    }
    result = subprocess.run(
        [sys.executable, "-m", "shared.cli.main", "projections", "rebuild"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=REPO,
        check=False,
    )
    assert result.returncode != 0 and "DATABASE_URL is not set" in result.stderr


# -- schemas export ----------------------------------------------------------------------------------------------


def test_schemas_export_writes_one_json_schema_per_event_type(settings: Settings, tmp_path: Path) -> None:
    target = tmp_path / "schemas"
    output = succeeded(architect(settings, "schemas", "export", str(target)))
    assert f"wrote {len(CATALOGUE) + 1} file(s)" in output
    index = json.loads((target / "index.json").read_text())
    assert {entry["type"] for entry in index} == set(CATALOGUE)
    for entry in index:
        schema = json.loads((target / entry["schema"]).read_text())
        assert schema["title"] == entry["type"]
        assert schema["properties"]["type"]["const"] == entry["type"]
        assert schema["x-architect"]["topic"] == CATALOGUE[entry["type"]].topic
        assert "payload" in schema["required"]


def test_a_command_kafka_never_takes_fails_in_one_line_without_a_traceback(settings: Settings) -> None:
    nowhere = settings.model_copy(update={"kafka_bootstrap_servers": "127.0.0.1:1"})
    started = time.monotonic()
    result = architect(nowhere, "goals", "cancel", "goal-nowhere")
    assert result.returncode == 1
    assert "Kafka at 127.0.0.1:1 did not accept the command" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "Connection refused" not in result.stderr  # librdkafka's retry chatter stays out of the way
    assert time.monotonic() - started < 60
