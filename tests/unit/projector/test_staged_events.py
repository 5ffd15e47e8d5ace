"""A batch's events and read-model rows are COPYed as preformatted blocks: exactly the rows psycopg would format
one by one."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import IntEnum, StrEnum

import pytest
from psycopg._copy_base import TextFormatter
from psycopg.adapt import Transformer

from services.projector.projections import PROJECTORS
from services.projector.store import read_model_rows, rows_text, staged_events_text
from shared.bus.consumer import Delivery
from shared.bus.record import Record
from shared.events.catalogue import CATALOGUE
from shared.events.catalogue.goals import GoalSubmitted
from shared.events.catalogue.tasks import TaskSucceeded
from shared.events.codec import decode, encode, new_event
from tests.unit.events.samples import sample_payload


def delivery(value: bytes, offset: int, topic: str = "architect.tasks.events") -> Delivery:
    return Delivery(decode(value), Record(topic, 3, offset, None, value))


def psycopg_rows_text(rows: list[tuple[object, ...]]) -> bytes:
    formatter = TextFormatter(Transformer())
    chunks = [bytes(formatter.write_row(row)) for row in rows]
    return b"".join(chunks) + bytes(formatter.end())


def staged_row(d: Delivery) -> tuple[str, int, int, str]:
    """What a batch stages per event: where Kafka keeps it and its canonical JSON (re-encoded when upcast)."""
    body = d.record.value if d.envelope.upcast_from is None and d.record.value is not None else encode(d.envelope)
    return (d.record.topic, d.record.partition, d.record.offset, body.decode())


def psycopg_text(deliveries: list[Delivery]) -> bytes:
    return psycopg_rows_text([staged_row(d) for d in deliveries])


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


class Tier(StrEnum):
    FAST = "fast"


class Attempt(IntEnum):
    FIRST = 1


def test_read_model_rows_equal_psycopg_row_by_row_for_every_value_kind() -> None:
    at = datetime(2026, 11, 29, 9, 1, 2, 345678, tzinfo=UTC)
    rows: list[tuple[object, ...]] = [
        ("t-1", "g-1", None, True, False, 0, -17, 2**40, 0.5, 1e-300, at, '{"a": [1, "x"]}'),
        (
            "tab\there",
            "line\nbreak",
            "cr\rhere",
            "back\\slash",
            "é ünïcode ✓",
            "",
            "\\N",
            "a\\tb",
            None,
            None,
            None,
            None,
        ),
        (
            Tier.FAST,
            Attempt.FIRST,
            at.astimezone(timezone(timedelta(hours=5, minutes=30))),
            3.0,
            -0.0,
            None,
            *[None] * 6,
        ),
    ]
    assert rows_text(rows) == psycopg_rows_text(rows)
    assert rows_text([]) == b""


def test_special_floats_are_spelled_as_postgres_reads_them() -> None:
    text = rows_text([(math.inf, -math.inf, math.nan)])
    assert text == b"Infinity\t-Infinity\tNaN\n"


def test_a_value_with_no_copy_format_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        rows_text([(Decimal("1.5"),)])


@pytest.mark.parametrize("event_type", sorted(PROJECTORS))
def test_every_projected_type_gives_rows_psycopg_formats_alike(event_type: str) -> None:
    payload = sample_payload(CATALOGUE[event_type].payload)
    event = decode(encode(new_event(payload, producer="p", stream_id="s", correlation_id="c")))
    rows = read_model_rows([Delivery(event, Record("architect.goals.events", 0, 1, None, None))])
    assert rows, f"{event_type} changes no read-model row"
    for table_rows in rows.values():
        assert rows_text(table_rows) == psycopg_rows_text(table_rows)
