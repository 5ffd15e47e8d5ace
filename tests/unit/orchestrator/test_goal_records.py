"""The goals table keeps each record as its JSON bytes; unfinished goals stay decoded beside it."""

from __future__ import annotations

import gc
import json

from faust.serializers import codecs

from services.orchestrator.goal_progress import GoalProgress
from services.orchestrator.goal_record import GoalRecord
from services.orchestrator.htn.plan import Plan, PlannedTask
from services.orchestrator.service import GoalRecords
from shared.bus.table_values import BYTES_VALUES, decode_value, encode_value

PLAN = Plan("parallel", "parallel", (PlannedTask("a", "noop", "code"), PlannedTask("b", "noop", "code")))


def running(goal_id: str) -> GoalRecord:
    progress = GoalProgress.from_plan(goal_id, PLAN).release("a", 1.0)
    return GoalRecord(goal_id, "parallel", {"repo": "x"}, status="running", plan=PLAN, progress=progress)


def test_records_are_stored_as_json_bytes_the_collector_does_not_track() -> None:
    table: dict[str, object] = {}
    records = GoalRecords(table)
    record = running("g1")
    records.put("g1", record)
    stored = table["g1"]
    assert isinstance(stored, bytes)
    assert not gc.is_tracked(stored)
    assert json.loads(stored) == record.to_dict()
    assert records.get("g1") is record


def test_a_record_is_decoded_again_once_the_table_holds_other_bytes() -> None:
    table: dict[str, object] = {}
    records = GoalRecords(table)
    records.put("g1", running("g1"))
    changed = running("g1").with_(priority=7)
    table["g1"] = encode_value(changed.to_dict())  # as a changelog restore or a rebalance would leave it
    assert records.get("g1") == changed
    assert records.get("g1") is records.get("g1")


def test_finished_goals_are_not_kept_decoded() -> None:
    table: dict[str, object] = {}
    records = GoalRecords(table)
    done = running("g1").with_(status="completed")
    records.put("g1", done)
    first, second = records.get("g1"), records.get("g1")
    assert first == second == done
    assert first is not second


def test_the_cache_forgets_the_least_recently_written_goal_beyond_its_limit() -> None:
    table: dict[str, object] = {}
    records = GoalRecords(table, limit=2)
    kept = {goal_id: running(goal_id) for goal_id in ("g1", "g2", "g3")}
    for goal_id, record in kept.items():
        records.put(goal_id, record)
    assert records.get("g3") is kept["g3"] and records.get("g2") is kept["g2"]
    assert records.get("g1") == kept["g1"] and records.get("g1") is not kept["g1"]


def test_missing_goals_and_old_json_changelog_values_read_back() -> None:
    table: dict[str, object] = {}
    records = GoalRecords(table)
    assert records.get("nope") is None
    # A changelog written with faust's JSON serializer holds the same text, which the raw codec hands over as is.
    legacy = codecs.dumps("json", running("g9").to_dict())
    table["g9"] = codecs.loads(BYTES_VALUES.value_serializer, legacy)
    assert records.get("g9") == running("g9")
    assert decode_value(None) is None
    assert decode_value(encode_value({"a": [1, "b"]})) == {"a": [1, "b"]}
