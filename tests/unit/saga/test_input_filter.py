"""What the coordinator's agents skip undecoded, by the ``architect-type`` header: other catalogued types only."""

from __future__ import annotations

from services.saga_coordinator.service import SAGA_INPUT_TYPES
from shared.bus.faust_stream import _skippable


def test_the_saga_agent_skips_task_events_it_ignores_and_decodes_the_rest() -> None:
    def skipped(headers: object) -> bool:
        return _skippable(headers, SAGA_INPUT_TYPES)

    assert skipped([("architect-type", b"TaskCreated")])
    assert skipped({"architect-type": b"TaskStarted"})
    assert not skipped([("architect-type", b"TaskSucceeded")])
    assert not skipped([("architect-type", b"AbortSaga")])
    assert not skipped([]), "no header: decoded (and dead-lettered if bad)"
    assert not skipped(None)
    assert not skipped([("architect-type", b"NoSuchType")]), "an unknown type is decoded and dead-lettered"
