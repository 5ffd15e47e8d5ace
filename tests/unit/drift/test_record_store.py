"""The drift monitor's table layout: baseline samples under keys of their own, so a sample writes a small record.

A restarted drift monitor reads its table's whole changelog back before it handles a sample, and every table
write is a changelog record: these tests bound what one sample writes, and check that the layout changes no
decision of the monitor.
"""

import json
from typing import Any

from services.agent_runtime.scripted_drift import DriftProgress, SemanticDrift
from services.drift_monitor.monitor import AgentRecord, MonitorConfig, decide
from services.drift_monitor.record_store import item_key, join_record, load, split_record, writes
from shared.events.catalogue.agents import AgentRegistered
from shared.events.catalogue.drift import (
    AgentReset,
    BehaviourSampled,
    ConsolidationApplied,
    ConsolidationRequested,
    StabilityScored,
)
from tests.unit.drift.test_monitor import EMBEDDING

#: What one sample may write to the changelog, in bytes of JSON, for outputs of 32 words: the memory (up to 70
#: outputs kept for the next consolidation) and the dedupe window of 256 task ids are most of it. A record
#: holding its baseline (20 embeddings of 512 floats) wrote 100-200 KB.
MAX_SAMPLE_WRITE_BYTES = 24_000


def json_copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


class TableFeeder:
    """Drives `decide` as the service does: the table a dict of JSON values, read with `load`, written with
    `writes`; counts the bytes each event wrote."""

    def __init__(self, config: MonitorConfig | None = None) -> None:
        self.config = config or MonitorConfig()
        self.table: dict[str, Any] = {}
        self.written: list[list[tuple[str, int]]] = []

    def send(self, payload: Any, agent_id: str = "a1") -> list:
        loaded = load(self.table, agent_id)
        assert not loaded.items_missing
        decision = decide(loaded.record, payload, self.config, EMBEDDING)
        batch = []
        if decision.record is not None:
            for key, value in writes(agent_id, loaded, decision.record.to_dict()):
                self.table[key] = json_copy(value)
                batch.append((key, len(json.dumps(value))))
        self.written.append(batch)
        return [event for _, event in decision.emit]


class PlainFeeder:
    """The record kept whole, as it was before the split (``tests/unit/drift/test_monitor.Feeder``)."""

    def __init__(self, config: MonitorConfig | None = None) -> None:
        self.config = config or MonitorConfig()
        self.stored: dict | None = None

    def send(self, payload: Any) -> list:
        decision = decide(self.stored, payload, self.config, EMBEDDING)
        if decision.record is not None:
            self.stored = json_copy(decision.record.to_dict())
        return [event for _, event in decision.emit]


def script(samples: int = 120, reset_before: int = 91) -> list[Any]:
    """A drifting agent's session: registration, samples (drift from the 40th) with a reset before one."""
    behaviour = SemanticDrift(seed=5, progress=DriftProgress(onset=40, ramp=10))
    events: list[Any] = [AgentRegistered(agent_id="a1", capabilities=["x"], role="worker")]
    for task in range(1, samples + 1):
        if task == reset_before:
            events.append(AgentReset(agent_id="a1", reason="drift"))
        out = behaviour.next_output()
        events.append(
            BehaviourSampled(
                agent_id="a1",
                task_id=f"{task:08d}-0000-4000-8000-000000000000/step-1",
                goal_id="g",
                output_text=out.text,
                tools_used=sorted(out.tools_used),
                memory_used=out.memory_used,
            )
        )
    return events


def applied(emitted: list) -> list[ConsolidationApplied]:
    """What the agent runtime answers to the consolidations asked for."""
    return [
        ConsolidationApplied(agent_id=r.agent_id, through=r.through, summary=f"summary {r.through}", kept=r.keep_last)
        for r in emitted
        if isinstance(r, ConsolidationRequested)
    ]


def test_the_table_layout_changes_no_decision() -> None:
    table, plain = TableFeeder(), PlainFeeder()
    for event in script():
        from_table, from_plain = table.send(event), plain.send(event)
        assert from_table == from_plain
        for answer in applied(from_table):
            assert table.send(answer) == plain.send(answer)
        assert load(table.table, "a1").record == plain.stored
    redelivered = script()[-1]
    assert table.send(redelivered) == [] and table.written[-1] == []


def test_a_sample_writes_a_small_record_and_each_baseline_sample_once() -> None:
    feeder = TableFeeder()
    scored = 0
    # Past the dedupe window (256 samples), with a UUID-like task id per sample, as the orchestrator names them.
    for event in script(samples=320, reset_before=91):
        emitted = feeder.send(event)
        for answer in applied(emitted):
            feeder.send(answer)
        if any(isinstance(e, StabilityScored) for e in emitted):
            scored += 1
            [(key, _)] = feeder.written[-1 - len(applied(emitted))]
            assert key == "a1", "a scored sample writes its agent's record only"
    assert scored > 250
    sizes = [size for batch in feeder.written for _, size in batch]
    assert max(sizes) <= MAX_SAMPLE_WRITE_BYTES, f"a write of {max(sizes)} bytes"
    # Each baseline sample (with its embedding) was written once, as it was collected: two sessions of 20.
    item_writes = [key for batch in feeder.written for key, _ in batch if key != "a1"]
    assert item_writes == [item_key("a1", index) for index in range(20)] * 2


def test_split_and_join_are_inverses_in_every_phase() -> None:
    feeder = PlainFeeder()
    for event in script():
        feeder.send(event)
        record = feeder.stored
        assert record is not None
        stored, items = split_record(record)
        drift = record["drift"]
        assert len(items) == (len(drift["collected"]) if drift["baseline"] is None else 20)
        assert "embeddings" not in json.dumps(stored) and "embedding" not in json.dumps(stored)
        assert join_record(json_copy(stored), json_copy(items)) == record


def test_a_record_stored_before_the_split_is_read_and_then_stored_split() -> None:
    feeder = PlainFeeder()
    for event in script()[:40]:
        feeder.send(event)
    assert feeder.stored is not None and feeder.stored["drift"]["baseline"] is not None
    table = TableFeeder()
    table.table["a1"] = feeder.stored  # as an older drift monitor left it
    loaded = load(table.table, "a1")
    assert loaded.record == feeder.stored
    AgentRecord.from_dict(loaded.record, table.config)  # readable
    table.send(script()[40])
    assert [key for key, _ in table.written[-1]] == [*(item_key("a1", index) for index in range(20)), "a1"]
    assert table.table["a1"]["drift"]["baseline"] == {"items": 20, "habit_share": 0.8}
    plain_decision = decide(feeder.stored, script()[40], feeder.config, EMBEDDING)
    assert plain_decision.record is not None
    assert load(table.table, "a1").record == json_copy(plain_decision.record.to_dict())


def test_a_record_counting_a_missing_item_comes_back_without_a_baseline() -> None:
    feeder = TableFeeder()
    for event in script()[:30]:
        feeder.send(event)
    del feeder.table[item_key("a1", 7)]
    loaded = load(feeder.table, "a1")
    assert loaded.items_missing and loaded.record is not None
    assert loaded.record["drift"]["baseline"] is None and loaded.record["drift"]["collected"] == []
    AgentRecord.from_dict(loaded.record, feeder.config)  # readable: the agent builds a new baseline
