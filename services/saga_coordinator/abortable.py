"""Whether a saga, as the read models show it, can be aborted by hand (``architect sagas abort``,
``POST /sagas/{id}/abort``): only a running saga. The coordinator applies ``AbortSaga`` to a running saga only and
ignores it otherwise (``SagaInstance.abort``), so a command that could change nothing is refused up front with
the reason instead of being published."""

from __future__ import annotations

#: The read-model status of a saga an ``AbortSaga`` still acts on.
ABORTABLE = "running"
_WHY_NOT = {
    "aborting": "is already being aborted",
    "compensating": "is already compensating its executed steps",
    "compensation_escalated": "is compensating and waits for a human to resolve an escalated compensation "
    "(architect sagas resolve)",
    "completed": "has finished: completed",
    "compensated": "has finished: compensated",
    "failed": "has finished: failed",
}


def abort_refusal(saga_id: str, status: str | None) -> str | None:
    """Why a saga in ``status`` cannot be aborted, or None when it can."""
    if status == ABORTABLE:
        return None
    why = _WHY_NOT.get(status or "", f"is {status or 'in no known state'}")
    return f"saga {saga_id!r} {why}: nothing to abort"
