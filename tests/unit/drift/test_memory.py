import json

from services.drift_monitor.memory import ConsolidationRequested, EpisodicMemory, MemoryEntry


def record(memory: EpisodicMemory, count: int) -> list[ConsolidationRequested]:
    requests = []
    for _ in range(count):
        request = memory.record(f"interaction {memory.interactions + 1}")
        if request is not None:
            requests.append(request)
    return requests


def test_a_consolidation_is_requested_every_fifty_interactions():
    memory = EpisodicMemory("a1")

    requests = record(memory, 160)

    assert [r.through for r in requests] == [50, 100, 150]


def test_a_request_carries_the_history_to_summarise_and_the_previous_summary():
    memory = EpisodicMemory("a1")
    (first,) = record(memory, 50)
    memory.apply_summary(50, "summary one")
    (second,) = record(memory, 50)

    assert len(first.entries) == 50 and first.previous_summary is None
    assert second.previous_summary == "summary one"
    assert [e.seq for e in second.entries] == list(range(31, 101))


def test_applying_a_summary_keeps_the_summary_and_the_last_twenty_interactions():
    memory = EpisodicMemory("a1")
    record(memory, 50)

    context = memory.apply_summary(50, "what happened so far")

    assert context.summary == "what happened so far"
    assert [e.seq for e in context.entries] == list(range(31, 51))


def test_interactions_recorded_while_summarising_are_kept():
    memory = EpisodicMemory("a1")
    record(memory, 55)

    context = memory.apply_summary(50, "summary")

    assert [e.seq for e in context.entries] == list(range(31, 56))


def test_an_older_or_repeated_summary_changes_nothing():
    memory = EpisodicMemory("a1")
    record(memory, 100)
    memory.apply_summary(100, "newer")

    assert memory.apply_summary(50, "older") == memory.apply_summary(100, "repeat")
    assert memory.context().summary == "newer"


def test_a_summary_from_before_a_session_restart_is_ignored():
    memory = EpisodicMemory("a1")
    record(memory, 10)

    assert memory.apply_summary(50, "stale").summary is None


def test_interval_and_kept_interactions_are_configurable():
    memory = EpisodicMemory("a1", interval=5, keep_last=2)

    requests = record(memory, 10)
    context = memory.apply_summary(10, "s")

    assert [r.through for r in requests] == [5, 10]
    assert context.entries == (MemoryEntry(9, "interaction 9"), MemoryEntry(10, "interaction 10"))


def test_memory_survives_a_json_round_trip():
    memory = EpisodicMemory("a1")
    record(memory, 60)
    memory.apply_summary(50, "s")

    restored = EpisodicMemory.from_dict(json.loads(json.dumps(memory.to_dict())))

    assert restored.context() == memory.context()
    assert record(restored, 40)[0].through == 100
