"""The engine's decisions: (stored decision record, incoming command or task event, now) -> (new record, events).

Pure apart from the envelopes it builds. The :class:`~services.consensus.decision.Decision` aggregate decides;
this module turns what it did into events. Every new entry of the aggregate's audit trail becomes an event
(a vote, a rejected vote, an equivocation, a closed round, the result ...), and every action asking agents for
something becomes a task per agent (``ballot_via="tasks"``; TaskCreated with the decision id as ``goal_id``,
task id ``<decision>/<step>/<agent>``) plus a deadline delivered later by the scheduler. Event ids derive from
the decision and the position of the fact in its audit trail, so handling an input twice (redelivery, a
replay after a crash) emits the very same ids. Commands that can never apply (a vote for a decision nobody
requested, a human resolution of a decision that is not escalated) raise ``RejectRecord``: dead-lettered.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.consensus.actions import DecisionEscalated as EscalateAction
from services.consensus.actions import OpenVoteRound, RequestContributions
from services.consensus.audit import AuditEntry
from services.consensus.debate import Contribution, Phase
from services.consensus.decision import Decision, DecisionRequest, Transition
from services.consensus.goal_bridge import goal_reply
from services.consensus.protocols.spec import TIE_BREAKABLE, ProtocolSpec
from services.consensus.protocols.vote import Vote
from services.consensus.saga_bridge import saga_reply
from services.consensus.tiers import TierPolicies, TierPolicy, VoteStage
from services.consensus.track_record import TrackRecord
from shared.bus.consumer import RejectRecord
from shared.bus.topics import DECISIONS_COMMANDS
from shared.events.catalogue import decisions as events
from shared.events.catalogue.gates import DecisionGateSettled
from shared.events.catalogue.sagas import ReportSagaActionResult
from shared.events.catalogue.tasks import TaskCreated
from shared.events.codec import new_event
from shared.events.envelope import DERIVED_EVENT_NAMESPACE, Envelope, Payload

PRODUCER = "consensus"
#: Commands about one decision from agents or people: about a decision nobody requested, they are dead-lettered.
DECISION_COMMANDS = frozenset({"CastVote", "Contribute", "ResolveDecision", "JudgeDecision"})
DEFAULT_BALLOT_CAPABILITY = "elector:{agent}"


@dataclass(frozen=True)
class EngineOptions:
    """Policies per tier, the track records weights come from, and the capability a ballot task needs
    (``{agent}`` is replaced by the voter's id, so the assigner hands each voter its own ballot)."""

    policies: TierPolicies = field(default_factory=TierPolicies)
    track_records: Mapping[str, TrackRecord] = field(default_factory=dict)
    ballot_capability: str = DEFAULT_BALLOT_CAPABILITY


@dataclass(frozen=True)
class Delayed:
    """An event to deliver later through the scheduler."""

    event: Envelope[Any]
    delay_s: float


@dataclass
class EngineStep:
    record: dict[str, Any] | None
    emit: list[Envelope[Any] | Delayed] = field(default_factory=list)


def stable_id(decision_id: str, what: str) -> uuid.UUID:
    """An event id that depends only on what the event is about."""
    return uuid.uuid5(DERIVED_EVENT_NAMESPACE, f"decision:{decision_id}:{what}")


def ballot_task_id(decision_id: str, step_id: str, agent: str) -> str:
    return f"{decision_id}/{step_id}/{agent}"


def parse_ballot_task(decision_id: str, task_id: str) -> tuple[int, str, str] | None:
    """(round, ``vote`` or a debate phase, agent) of one of this decision's tasks, or None."""
    if not task_id.startswith(decision_id + "/"):
        return None
    step_id, _, agent = task_id[len(decision_id) + 1 :].partition("/")
    round_text, _, kind = step_id.partition(":")
    if not agent or not round_text.startswith("r") or kind not in {"vote", *Phase}:
        return None
    try:
        return int(round_text[1:]), kind, agent
    except ValueError:
        return None


def _at(seconds: float | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None


def policies_for(request: events.RequestDecision, base: TierPolicies) -> TierPolicies:
    """The tier policies in force, with the request's tier replaced by one vote when it names a protocol."""
    if request.protocol is None:
        return base
    tier_policy = base.for_tier(request.tier)
    spec = ProtocolSpec(request.protocol, tie_break=request.protocol in TIE_BREAKABLE)
    override = TierPolicy(
        request.tier,
        (VoteStage(spec),),
        tier_policy.step_timeout_s,
        f"{request.protocol} vote reached no decision",
    )
    return TierPolicies(
        **{**{t: base.for_tier(t) for t in ("strategic", "tactical", "operational")}, request.tier: override}
    )


class _Out:
    """Collects the events one input causes, each with a stable id."""

    def __init__(self, cause: Envelope[Any], decision_id: str) -> None:
        self.cause, self.decision_id = cause, decision_id
        self.emit: list[Envelope[Any] | Delayed] = []

    def envelope(self, payload: Payload, what: str) -> Envelope[Any]:
        return new_event(
            payload,
            producer=PRODUCER,
            stream_id=self.decision_id,
            correlation_id=self.decision_id,
            causation_id=self.cause.event_id,
            event_id=stable_id(self.decision_id, what),
        )

    def now(self, payload: Payload, what: str) -> None:
        self.emit.append(self.envelope(payload, what))

    def reply(self, payload: ReportSagaActionResult | DecisionGateSettled, what: str) -> None:
        """A report to the saga or goal that asked for this decision (keyed by it, like its other commands)."""
        event = new_event(
            payload,
            producer=PRODUCER,
            stream_id=payload.saga_id if isinstance(payload, ReportSagaActionResult) else payload.goal_id,
            correlation_id=self.decision_id,
            causation_id=self.cause.event_id,
            event_id=stable_id(self.decision_id, what),
        )
        self.emit.append(event)

    def later(self, payload: Payload, what: str, delay_s: float) -> None:
        self.emit.append(Delayed(self.envelope(payload, what), max(delay_s, 0.0)))


def decide(stored: Mapping[str, Any] | None, event: Envelope[Any], now: float, options: EngineOptions) -> EngineStep:
    """Apply one command or task event to a decision."""
    if event.type == "RequestDecision":
        return _request(stored, event, now, options)
    if stored is None:
        if event.type in DECISION_COMMANDS:
            raise RejectRecord("unknown_decision", f"{event.type} for decision {event.stream_id!r}, which is unknown")
        return EngineStep(None)  # the task of no decision held here
    decision = Decision.from_dict(stored["decision"])
    out = _Out(event, decision.request.decision_id)
    p = event.payload
    if event.type == "CastVote":
        transition = decision.cast(Vote(p.voter, p.choice, rationale=p.rationale, round=p.round), now)
    elif event.type == "Contribute":
        transition = decision.contribute(Contribution(p.agent, p.round, Phase(p.phase), p.text, p.position), now)
    elif event.type == "DecisionStepDue":
        transition = decision.deadline_passed(p.step_id, now)
    elif event.type == "TaskSucceeded":
        found = _answer(decision, p)
        if found is None:
            return EngineStep(dict(stored))
        transition = decision.cast(found, now) if isinstance(found, Vote) else decision.contribute(found, now)
    elif event.type == "ResolveDecision":
        return _resolve(stored, decision, event, out)
    elif event.type == "JudgeDecision":
        return _judge(stored, decision, event, out)
    else:
        return EngineStep(dict(stored))
    _publish(stored, decision, transition, now, options, out)
    return EngineStep({**stored, "decision": transition.decision.to_dict()}, out.emit)


def _request(stored: Mapping[str, Any] | None, e: Envelope[Any], now: float, options: EngineOptions) -> EngineStep:
    p: events.RequestDecision = e.payload
    if stored is not None:
        return EngineStep(dict(stored))  # a repeated or redelivered request: the decision already exists
    deadline = p.deadline.timestamp() if p.deadline is not None else None
    try:
        request = DecisionRequest(
            p.decision_id,
            p.question,
            p.tier,
            tuple(p.electorate),
            None if p.options is None else tuple(p.options),
            deadline,
        )
        policies = policies_for(p, options.policies)
    except ValueError as error:
        raise RejectRecord("invalid_decision", f"decision {p.decision_id!r} cannot open: {error}") from error
    record: dict[str, Any] = {
        "ballot_via": p.ballot_via,
        "requested_by": p.requested_by,
        "protocol": p.protocol,
        "context": dict(p.context),
        "resolution": None,
    }
    transition = Decision.open(request, now, policies, options.track_records)
    out = _Out(e, p.decision_id)
    _publish(record, None, transition, now, options, out)
    return EngineStep({**record, "decision": transition.decision.to_dict()}, out.emit)


def _answer(decision: Decision, p: Any) -> Vote | Contribution | None:
    """The vote or contribution a ballot task's result carries (None: not one of ours, or not usable)."""
    found = parse_ballot_task(decision.request.decision_id, p.task_id)
    if found is None:
        return None
    round_number, kind, agent = found
    if p.agent_id != agent:
        return None  # someone else ran this agent's ballot: its answer is not the voter's
    output = p.output
    if kind == "vote":
        choice = output.get("choice")
        if not isinstance(choice, str) or not choice:
            return None  # no usable vote: the round's deadline closes it without this voter
        return Vote(agent, choice, rationale=str(output.get("rationale", "")), round=round_number)
    position = output.get("position")
    return Contribution(
        agent, round_number, Phase(kind), str(output.get("text", "")), position if isinstance(position, str) else None
    )


def _resolve(stored: Mapping[str, Any], decision: Decision, e: Envelope[Any], out: _Out) -> EngineStep:
    p: events.ResolveDecision = e.payload
    resolution = stored.get("resolution")
    if resolution is not None:
        if resolution["choice"] == p.choice:
            return EngineStep(dict(stored))  # a repeated resolution
        raise RejectRecord("already_resolved", f"decision {p.decision_id} was already resolved: {resolution['choice']}")
    if decision.status != "escalated":
        raise RejectRecord("not_escalated", f"decision {p.decision_id} is {decision.status}, not escalated")
    options = decision.request.options
    if options is not None and p.choice not in options:
        raise RejectRecord("invalid_choice", f"{p.choice!r} is not one of the options {list(options)}")
    reason = f"decided by {p.resolved_by} after escalation" + (f": {p.comment}" if p.comment else "")
    reached = events.DecisionReached(
        decision_id=p.decision_id, choice=p.choice, protocol="human", reasons=[reason], decided_by=p.resolved_by
    )
    out.now(reached, "resolved")
    report = saga_reply(stored.get("context", {}), p.decision_id, p.choice)
    if report is not None:
        out.reply(report, "resolved/saga-report")
    gate = goal_reply(stored.get("context", {}), p.decision_id, p.choice, reason, [p.resolved_by])
    if gate is not None:
        out.reply(gate, "resolved/goal-report")
    resolution = {"choice": p.choice, "resolved_by": p.resolved_by, "comment": p.comment}
    return EngineStep({**stored, "resolution": resolution}, out.emit)


def verdicts_of(decision: Decision, correct_choice: str) -> dict[str, bool]:
    """Each agent's final call judged against ``correct_choice``: its counted vote in the last vote round, else
    its last debate position; a voter caught equivocating in that round is judged wrong."""
    rounds = sorted((r for r, votes in decision.ballots.items() if votes), reverse=True)
    if rounds:
        votes = decision.votes_of(rounds[0])
        choices: dict[str, set[str]] = {}
        for vote in votes:
            choices.setdefault(vote.voter, set()).add(vote.choice)
        return {voter: made == {correct_choice} for voter, made in sorted(choices.items())}
    return {agent: position == correct_choice for agent, position in sorted(decision.positions.items())}


def _judge(stored: Mapping[str, Any], decision: Decision, e: Envelope[Any], out: _Out) -> EngineStep:
    p: events.JudgeDecision = e.payload
    earlier = stored.get("judged")
    if earlier is not None:
        if earlier["correct_choice"] == p.correct_choice:
            return EngineStep(dict(stored))  # a repeated judgement
        raise RejectRecord(
            "already_judged", f"decision {p.decision_id} was judged already: {earlier['correct_choice']}"
        )
    if decision.status == "open":
        raise RejectRecord("not_decided", f"decision {p.decision_id} is still open")
    verdicts = verdicts_of(decision, p.correct_choice)
    judgement = events.DecisionJudged(
        decision_id=p.decision_id, correct_choice=p.correct_choice, judged_by=p.judged_by, verdicts=verdicts
    )
    out.now(judgement, "judged")
    record = {"correct_choice": p.correct_choice, "judged_by": p.judged_by, "verdicts": verdicts}
    return EngineStep({**stored, "judged": record}, out.emit)


# -- the aggregate's facts and actions -> events ----------------------------------------------------------------


def _publish(
    record: Mapping[str, Any],
    before: Decision | None,
    transition: Transition,
    now: float,
    options: EngineOptions,
    out: _Out,
) -> None:
    after = transition.decision
    start = len(before.audit) if before is not None else 0
    escalations = [a for a in transition.actions if isinstance(a, EscalateAction)]
    for index, entry in enumerate(after.audit[start:], start):
        for n, payload in enumerate(_facts(record, after, entry, escalations)):
            out.now(payload, f"audit/{index}/{n}")
            report = _saga_report(record, payload)
            if report is not None:
                out.reply(report, f"audit/{index}/{n}/saga-report")
            gate = _goal_report(record, after, payload)
            if gate is not None:
                out.reply(gate, f"audit/{index}/{n}/goal-report")
    for action in transition.actions:
        if isinstance(action, OpenVoteRound):
            asks = [(voter, "vote") for voter in action.voters]
            _ask(record, after, action.step_id, action.round, asks, action.deadline, now, options, out)
        elif isinstance(action, RequestContributions):
            asks = [(r.agent, str(r.phase)) for r in action.requests]
            _ask(record, after, action.step_id, action.round, asks, action.deadline, now, options, out, action)


def _saga_report(record: Mapping[str, Any], payload: Payload) -> ReportSagaActionResult | None:
    """The end of a decision a saga waits for; an escalation that a human will resolve keeps it waiting."""
    context = record.get("context", {})
    if isinstance(payload, events.DecisionReached):
        return saga_reply(context, payload.decision_id, payload.choice)
    if isinstance(payload, events.DecisionEscalated) and not payload.requires_approval:
        return saga_reply(context, payload.decision_id, None, payload.reason)
    return None


def _goal_report(record: Mapping[str, Any], decision: Decision, payload: Payload) -> DecisionGateSettled | None:
    """The end of a decision a goal's gate waits for; an escalation that a human will resolve keeps it waiting."""
    context = record.get("context", {})
    voters = list(decision.request.electorate)
    if isinstance(payload, events.DecisionReached):
        return goal_reply(context, payload.decision_id, payload.choice, "; ".join(payload.reasons), voters)
    if isinstance(payload, events.DecisionEscalated) and not payload.requires_approval:
        return goal_reply(context, payload.decision_id, None, payload.reason, voters)
    return None


def _facts(
    record: Mapping[str, Any], decision: Decision, entry: AuditEntry, escalations: list[EscalateAction]
) -> list[Payload]:
    decision_id = decision.request.decision_id
    d = dict(entry.details)
    kind, round_number = entry.kind, entry.round
    if kind == "requested":
        request = decision.request
        return [
            events.DecisionRequested(
                decision_id=decision_id,
                question=request.question,
                tier=request.tier,
                electorate=list(request.electorate),
                options=None if request.options is None else list(request.options),
                deadline=_at(request.deadline),
                protocol=record.get("protocol"),
                ballot_via=record.get("ballot_via", "tasks"),
                requested_by=record.get("requested_by", "anonymous"),
                policy=decision.policy.to_dict(),
                weights=dict(decision.weights),
            )
        ]
    if kind == "round_opened":
        assert round_number is not None
        fresh = d.get("ballot") != "debate_positions"
        return [
            events.RoundOpened(
                decision_id=decision_id,
                round=round_number,
                step_id=f"r{round_number}:vote" if fresh else None,
                protocol=d["protocol"],
                term=int(d.get("term", decision.term)),
                voters=list(decision.request.electorate),
                deadline=_at(d.get("deadline")),
                ballot="fresh" if fresh else "debate_positions",
            )
        ]
    if kind in {"vote", "equivocation"}:
        vote = Vote.from_dict(d)
        facts: list[Payload] = [
            events.VoteRecorded(
                decision_id=decision_id,
                round=vote.round,
                voter=vote.voter,
                choice=vote.choice,
                weight=vote.weight,
                rationale=vote.rationale,
                term=vote.term,
                equivocation=kind == "equivocation",
            )
        ]
        if kind == "equivocation":
            choices = sorted({v.choice for v in decision.votes_of(vote.round) if v.voter == vote.voter})
            facts.append(
                events.EquivocationDetected(
                    decision_id=decision_id, round=vote.round, voter=vote.voter, choices=choices
                )
            )
        return facts
    if kind in {"vote_rejected", "vote_ignored"}:
        return [
            events.VoteRejected(
                decision_id=decision_id,
                round=int(d["round"]),
                voter=d["voter"],
                choice=d["choice"],
                reason=d["reason"],
                disposition="rejected" if kind == "vote_rejected" else "ignored",
            )
        ]
    if kind == "contribution":
        return [
            events.ContributionRecorded(
                decision_id=decision_id,
                round=int(d["round"]),
                agent=d["agent"],
                phase=d["phase"],
                text=d.get("text", ""),
                position=d.get("position"),
            )
        ]
    if kind in {"contribution_rejected", "contribution_ignored"}:
        return [
            events.ContributionRejected(
                decision_id=decision_id,
                round=int(d["round"]),
                agent=d["agent"],
                phase=d["phase"],
                reason=d["reason"],
                disposition="rejected" if kind == "contribution_rejected" else "ignored",
            )
        ]
    if kind == "phase_opened":
        assert round_number is not None
        return [
            events.ContributionsRequested(
                decision_id=decision_id,
                round=round_number,
                step_id=f"r{round_number}:{d['phase']}",
                phase=d["phase"],
                agents=list(decision.request.electorate),
                deadline=_at(d.get("deadline")),
            )
        ]
    if kind == "round_closed":
        assert round_number is not None
        outcome = d["outcome"]
        return [
            events.RoundClosed(
                decision_id=decision_id,
                round=round_number,
                why=d["why"],
                protocol=outcome["protocol"],
                choice=outcome.get("choice"),
                tally=outcome.get("tally", {}),
                reasons=list(outcome.get("reasons", [])),
                flagged=list(outcome.get("flagged", [])),
            )
        ]
    if kind == "reached":
        outcome = decision.outcome
        assert outcome is not None and outcome.choice is not None
        return [
            events.DecisionReached(
                decision_id=decision_id,
                choice=outcome.choice,
                protocol=outcome.protocol,
                tally=dict(outcome.tally),
                reasons=list(outcome.reasons),
                flagged=list(outcome.flagged),
                term=outcome.term,
                leader=outcome.leader,
            )
        ]
    if kind == "escalated":
        action = escalations[0] if escalations else None
        return [
            events.DecisionEscalated(
                decision_id=decision_id,
                reason=d["reason"],
                positions=dict(action.positions) if action else decision.positions,
                last_outcome=action.outcome.to_dict() if action and action.outcome else None,
                requires_approval=decision.request.tier == "strategic" or record.get("protocol") is not None,
            )
        ]
    return [events.DecisionProgressed(decision_id=decision_id, kind=kind, round=round_number, details=d)]


def _ask(
    record: Mapping[str, Any],
    decision: Decision,
    step_id: str,
    round_number: int,
    asks: list[tuple[str, str]],
    deadline: float,
    now: float,
    options: EngineOptions,
    out: _Out,
    contributions: RequestContributions | None = None,
) -> None:
    """A task per agent asked (when ballots go through tasks), and the step's deadline, scheduled."""
    decision_id = decision.request.decision_id
    if record.get("ballot_via", "tasks") == "tasks":
        for agent, operator in asks:
            task_id = ballot_task_id(decision_id, step_id, agent)
            inputs: dict[str, Any] = {
                "decision_id": decision_id,
                "question": decision.request.question,
                "options": None if decision.request.options is None else list(decision.request.options),
                "round": round_number,
                "voter": agent,
                "context": dict(record.get("context", {})),
            }
            if contributions is not None:
                inputs["debate"] = [c.to_dict() for c in contributions.context]
            task = TaskCreated(
                task_id=task_id,
                goal_id=decision_id,
                operator=operator,
                capability=options.ballot_capability.format(agent=agent),
                inputs=inputs,
                timeout_s=max(deadline - now, 1.0),
                reply_to=DECISIONS_COMMANDS,
            )
            out.now(task, f"task/{task_id}")
    due = events.DecisionStepDue(decision_id=decision_id, step_id=step_id)
    out.later(due, f"step/{step_id}/due", deadline - now)
