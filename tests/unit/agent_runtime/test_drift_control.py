"""Drift containment in the runtime: session resets and EMC consolidation on hosted backends."""

from services.agent_runtime.backends.contract import TaskRequest
from services.agent_runtime.backends.scripted_backend import DriftScenario, ScriptedBackend, ScriptedBackendConfig
from services.agent_runtime.drift_control import consolidate, reset, summarise
from shared.events.catalogue.drift import AgentResetRequested, ConsolidationRequested, MemoryEntryModel


def drifting_backend() -> ScriptedBackend:
    config = ScriptedBackendConfig(latency_s=0, drift=DriftScenario(kind="semantic", onset=2, ramp=2))
    return ScriptedBackend(config, agent_id="a1", sleep=lambda _: None)


def run(backend: ScriptedBackend, n: int) -> float:
    drift = 0.0
    for i in range(n):
        request = TaskRequest("a1", "worker", "m", f"t{i}", "g", 1, "code", "code", 10.0)
        drift = backend.execute(request).output["effective_drift"]
    return drift


def test_a_reset_restarts_a_scripted_session_and_reports_the_reason() -> None:
    backend = drifting_backend()
    assert run(backend, 6) == 1.0
    request = AgentResetRequested(agent_id="a1", role="worker", interaction=40, stability=0.42, threshold=0.5)

    done = reset(backend, request)

    assert done.agent_id == "a1" and "0.42" in done.reason and "0.5" in done.reason
    assert run(backend, 2) == 0.0


def test_a_backend_without_sessions_is_still_reported_reset() -> None:
    request = AgentResetRequested(agent_id="a1", role="worker", interaction=40, stability=0.4, threshold=0.5)
    assert reset(object(), request).agent_id == "a1"


def test_consolidation_summarises_older_entries_and_pulls_scripted_drift_back() -> None:
    backend = drifting_backend()
    run(backend, 6)
    entries = [MemoryEntryModel(seq=i, text=f"Fixed parser {i % 3}. Then more words.") for i in range(1, 51)]
    request = ConsolidationRequested(agent_id="a1", through=50, previous_summary="Earlier.", entries=entries)

    applied = consolidate(backend, request)

    assert applied.through == 50 and applied.kept == 20
    assert applied.summary == "Earlier. Fixed parser 1. Fixed parser 2. Fixed parser 0."
    assert backend._drifter is not None and backend._drifter.progress.progress == 0.5


def test_summaries_are_bounded() -> None:
    entries = [MemoryEntryModel(seq=i, text=f"Sentence number {i} " * 5) for i in range(1, 200)]
    assert len(summarise(None, entries, max_chars=300)) == 300
