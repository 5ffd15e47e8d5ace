"""A tiny faust-streaming app built on ``shared.bus.faust_stream``, run as its own process by test_faust_stream.

It reads ``SubmitGoal`` commands from ``PROBE_TOPIC`` through ``envelopes()`` and answers each with a
``GoalSubmitted`` published by ``FaustPublisher``; the goal type chooses how the handler behaves:

- ``fix_bug``: answer at once;
- ``flaky``: fail on the first attempt, answer on the retry;
- ``explode``: always fail (dead-lettered as ``handler_error`` after the last attempt);
- ``refuse``: raise ``RejectRecord`` (dead-lettered at once with its own reason).

The id of every envelope that ``envelopes()`` yields is appended to ``PROBE_HANDLED_FILE``, one a line (faust
redirects stdout into its log). Configuration: the usual ``ARCHITECT_*`` variables plus ``PROBE_APP_ID``,
``PROBE_TOPIC`` (one topic, or several separated by commas feeding the one agent) and ``PROBE_HANDLED_FILE``;
with ``PROBE_TABLE`` the handler first stores each goal's type in a table of that name (as the services' tables,
sized by ``table_partitions``); ``PROBE_DECLARE=0`` stops faust creating topics (the table's changelog among them).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import faust

from shared.bus.consumer import RejectRecord
from shared.bus.faust_stream import FaustPublisher, envelopes, make_app, raw_topic
from shared.bus.partitioning import table_partitions
from shared.bus.producer import EventProducer
from shared.events.catalogue.goals import GoalSubmitted
from shared.events.codec import caused_by
from shared.events.envelope import Envelope
from shared.settings import Settings

ANSWERED_BY = "faust-probe"


def build_app(
    settings: Settings, app_id: str, topic: str, handled_file: Path, table: str = "", declare: bool = True
) -> faust.App:
    app = make_app(app_id, settings, topic_allow_declare=declare)
    goals = (
        app.Table(
            table,
            default=None,
            partitions=table_partitions(settings, app_id, table, (topic,)),
            schema=faust.Schema(key_serializer="json", value_serializer="json"),
        )
        if table
        else None
    )
    publisher = FaustPublisher(app)
    dead_letters = EventProducer(settings, client_id=f"{app_id}-dlq")
    attempts: dict[str, int] = {}

    async def answer(command: Envelope[Any]) -> None:
        goal_type = command.payload.goal_type
        key = str(command.event_id)
        attempts[key] = attempts.get(key, 0) + 1
        if goal_type == "explode":
            raise RuntimeError(f"boom on attempt {attempts[key]}")
        if goal_type == "refuse":
            raise RejectRecord("refused", "this probe refuses such goals")
        if goal_type == "flaky" and attempts[key] == 1:
            raise ConnectionError("flaky on the first attempt")
        if goals is not None:
            goals[command.payload.goal_id] = goal_type
        submitted = GoalSubmitted(goal_id=command.payload.goal_id, goal_type=goal_type)
        await publisher.publish(caused_by(command, submitted, producer=ANSWERED_BY, kind="submitted"), wait=True)

    @app.agent(raw_topic(app, *topic.split(",")), name="probe", concurrency=1)
    async def probe(stream: faust.StreamT) -> None:
        async for envelope in envelopes(stream, answer, group=app_id, settings=settings, dead_letters=dead_letters):
            with handled_file.open("a") as handled:
                handled.write(f"{envelope.event_id}\n")

    return app


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    env = os.environ
    app = build_app(
        Settings(),
        env["PROBE_APP_ID"],
        env["PROBE_TOPIC"],
        Path(env["PROBE_HANDLED_FILE"]),
        table=env.get("PROBE_TABLE", ""),
        declare=env.get("PROBE_DECLARE", "1") != "0",
    )
    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn", "--without-web"]
    app.main()


if __name__ == "__main__":
    main()
