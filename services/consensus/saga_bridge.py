"""Sagas ask for decisions and wait for them: a saga step ``{command: RequestDecision, params: {...}}``.

When the saga coordinator starts such a step (SagaStepStarted or CompensationStarted with ``kind="command"``
and ``action="RequestDecision"``), :func:`request_for` turns it into a RequestDecision whose context says
where to reply. When that decision ends, :func:`saga_reply` is the ReportSagaActionResult the saga waits for:
succeeded with the choice as output when the choice is acceptable (``params.accept``, default: any choice),
failed (not retryable) when it is not, or when the decision escalated without a human to resolve it. A
decision that waits for a human keeps the saga waiting until ResolveDecision.

Step params: ``question``, ``electorate``, ``tier`` (default tactical), ``options``, ``protocol``,
``ballot_via``, ``accept``, ``context``; a saga's own params are merged in by the coordinator.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from shared.events.catalogue.decisions import RequestDecision
from shared.events.catalogue.sagas import ReportSagaActionResult
from shared.events.envelope import Envelope

ACTION = "RequestDecision"
REPLY_TO = "reply_to"
STARTS = frozenset({"SagaStepStarted", "CompensationStarted"})
REQUEST_FIELDS = ("question", "tier", "electorate", "options", "protocol", "ballot_via")


def decision_id_for(saga_id: str, phase: str, step_index: int, attempt: int, round_: int = 0) -> str:
    """A readable decision id per attempt of a saga step (characters a decision id may not hold become ``_``)."""
    tag = f"s{step_index}" if phase == "step" else f"c{step_index}r{round_}"
    return re.sub(r"[^A-Za-z0-9_.:-]", "_", f"{saga_id}:{tag}:a{attempt}")[:200]


def request_for(event: Envelope[Any]) -> RequestDecision | None:
    """The decision a saga step asks for, or None (another event, another command, or unusable params)."""
    if event.type not in STARTS:
        return None
    p = event.payload
    if p.kind != "command" or p.action != ACTION:
        return None
    phase = "step" if event.type == "SagaStepStarted" else "compensation"
    round_ = getattr(p, "round", 0)
    params = dict(p.params)
    reply = {"saga_id": p.saga_id, "phase": phase, "step_index": p.step_index, "attempt": p.attempt, "round": round_}
    context = {**dict(params.get("context") or {}), REPLY_TO: reply, "accept": params.get("accept")}
    fields = {k: params[k] for k in REQUEST_FIELDS if params.get(k) is not None}
    try:
        return RequestDecision(
            decision_id=decision_id_for(p.saga_id, phase, p.step_index, p.attempt, round_),
            requested_by=f"saga:{p.saga_id}",
            context=context,
            **({"tier": "tactical"} | fields),
        )
    except ValidationError:
        return None


def unusable_params_reply(event: Envelope[Any]) -> ReportSagaActionResult | None:
    """For a decision step whose params make no valid request: the failure the saga should see at once."""
    if event.type not in STARTS or event.payload.kind != "command" or event.payload.action != ACTION:
        return None
    if request_for(event) is not None:
        return None
    p = event.payload
    return ReportSagaActionResult(
        saga_id=p.saga_id,
        phase="step" if event.type == "SagaStepStarted" else "compensation",
        step_index=p.step_index,
        attempt=p.attempt,
        round=getattr(p, "round", 0),
        outcome="failed",
        error="RequestDecision step needs params question and electorate (and a valid tier, options, protocol)",
        retryable=False,
        reported_by="consensus",
    )


def saga_reply(
    context: Mapping[str, Any], decision_id: str, choice: str | None, reason: str = ""
) -> ReportSagaActionResult | None:
    """What to tell the saga that asked (None when no saga asked): ``choice`` None means no decision."""
    reply = context.get(REPLY_TO)
    if not isinstance(reply, Mapping):
        return None
    accept = context.get("accept")
    succeeded = choice is not None and (not accept or choice in accept)
    if choice is None:
        error = f"decision {decision_id} reached no choice: {reason}"
    else:
        error = "" if succeeded else f"decision {decision_id} chose {choice!r}, not one of {list(accept or [])}"
    return ReportSagaActionResult(
        saga_id=str(reply["saga_id"]),
        phase=reply["phase"],
        step_index=int(reply["step_index"]),
        attempt=int(reply["attempt"]),
        round=int(reply.get("round", 0)),
        outcome="succeeded" if succeeded else "failed",
        error=error,
        retryable=False,
        output={"decision_id": decision_id, "choice": choice},
        reported_by="consensus",
    )
