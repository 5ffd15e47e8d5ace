"""A batch's events are COPYed as one preformatted block: exactly the rows psycopg would format one by one."""

from __future__ import annotations

import json

from psycopg._copy_base import TextFormatter
from psycopg.adapt import Transformer

from services.projector.store import staged_event_row, staged_events_text
from shared.bus.consumer import Delivery
from shared.bus.record import Record
from shared.events.catalogue.goals import GoalSubmitted
from shared.events.catalogue.tasks import TaskSucceeded
from shared.events.codec import decode, encode, new_event


def delivery(value: bytes, offset: int, topic: str = "architect.tasks.events") -> Delivery:
    return Delivery(decode(value), Record(topic, 3, offset, None, value))


def psycopg_text(deliveries: list[Delivery]) -> bytes:
    formatter = TextFormatter(Transformer())
    for d in deliveries:
        formatter.write_row(staged_event_row(d))
    return bytes(formatter.end())


def test_the_block_equals_psycopg_row_by_row_for_escapes_whitespace_and_upcast_records() -> None:
    tricky = TaskSucceeded(
        task_id="t\\1", goal_id="g\t1", agent_id="a", output={"text": 'line\nnext "quoted" \\ back\rslash é'}
    )
    canonical = encode(new_event(tricky, producer="p", stream_id="g", correlation_id="g"))
    pretty = json.dumps(json.loads(canonical), indent="\t").encode()  # raw tabs and newlines between tokens
    submitted = json.loads(
        encode(
            new_event(
                GoalSubmitted(goal_id="g", goal_type="x", title="t"), producer="p", stream_id="g", correlation_id="g"
            )
        )
    )
    submitted["version"] = 1  # an old record: its body is the re-encoded, upcast envelope
    submitted["payload"]["description"] = submitted["payload"].pop("title")
    old = json.dumps(submitted).encode()
    batch = [delivery(canonical, 7), delivery(pretty, 8), delivery(old, 9, "architect.goals.events")]
    assert batch[2].envelope.upcast_from == 1
    assert staged_events_text(batch) == psycopg_text(batch)
    assert staged_events_text([]) == b""
