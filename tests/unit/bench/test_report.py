"""The benchmarks' report formatting: aligned text, markdown, and the headline quoted by the README."""

from __future__ import annotations

import pytest

from bench.machine import Machine
from bench.report import Outcome, ResultTable
from bench.run_all import headline, markdown

MACHINE = Machine(
    date="2026-11-28 04:00:00 UTC",
    nproc=2,
    cpu_model="Test CPU",
    load_average=(1.0, 2.0, 3.0),
    kafka_version="4.1.1",
    librdkafka_version="2.16.0",
    python_version="3.11.7",
)


def table() -> ResultTable:
    result = ResultTable("Title", ["name", "rate"], notes=["a note"])
    result.add("produce", "1,234")
    result.add("consume | fetch", "56")
    return result


def test_text_rendering_aligns_names_left_and_figures_right() -> None:
    assert table().render().splitlines() == [
        "Title",
        "----------------------",
        "name              rate",
        "----------------------",
        "produce          1,234",
        "consume | fetch     56",
        "a note",
    ]


def test_markdown_right_aligns_figures_and_escapes_pipes() -> None:
    assert table().markdown().splitlines() == [
        "**Title**",
        "",
        "| name | rate |",
        "| --- | ---: |",
        "| produce | 1,234 |",
        "| consume \\| fetch | 56 |",
        "",
        "- a note",
    ]


def test_a_row_of_the_wrong_width_is_refused() -> None:
    with pytest.raises(ValueError, match="expected 2 cells, got 1"):
        table().add("only one")


def rebuild_outcome(per_s: int, share: float) -> Outcome:
    summary = {
        "events": 1_000_000,
        "rebuild_per_s": per_s,
        "raw_copy_per_s": 80_000,
        "rebuild_share_of_raw_copy": share,
        "target_per_s": 50_000,
        "target_share": 0.6,
    }
    return Outcome("projection_rebuild", MACHINE, [], summary)


def test_headline_says_whether_each_rebuild_target_was_met() -> None:
    rows = headline([rebuild_outcome(60_000, 0.5)]).rows
    assert rows == [
        ["Projection rebuild of 1,000,000 events into Postgres", "60,000 events/s", ">= 50,000 events/s", "met"],
        ["Raw COPY of the same rows", "80,000 events/s", "", ""],
        ["Rebuild / raw COPY", "50%", ">= 60%", "missed"],
    ]


def test_headline_quotes_kafka_rates_in_events_and_megabytes() -> None:
    summary = {"produce_msgs_per_s": 123_456, "produce_mb_per_s": 126.4, "consume_msgs_per_s": 7, "consume_mb_per_s": 0}
    rows = headline([Outcome("kafka_ceiling", MACHINE, [], summary)]).rows
    assert [row[1] for row in rows] == ["123,456 events/s = 126.4 MB/s", "7 events/s = 0.0 MB/s"]


def test_markdown_document_names_the_machine_its_load_and_every_table() -> None:
    document = markdown([rebuild_outcome(10_000, 0.1)], (1.0, 2.0, 3.0), (4.0, 5.0, 6.0))
    assert document.startswith("# Backbone benchmarks\n")
    assert "2 cores (Test CPU)" in document
    assert "at the start 1.00 / 2.00 / 3.00, at the end 4.00 / 5.00 / 6.00" in document
    assert "shared the 2 cores" in document
    assert "| Rebuild / raw COPY | 10% | >= 60% | missed |" in document
    assert "## bench.projection_rebuild" in document
