"""The Decision aggregate: one question, decided by its tier's policy, from request to outcome.

A decision is created by a request, then consumes three kinds of signals: votes, debate
contributions, and deadline-passed signals for the step it is waiting on. Each call returns a
:class:`Transition`: the new decision (the old one is never modified) and the actions the service must
carry out (open a vote round, request debate contributions, announce the choice, escalate).

Guarantees the service relies on:

* **Idempotent under redelivery.** A repeated vote, contribution or deadline signal leaves the
  decision unchanged and yields no actions; rejected or ignored signals are noted in the audit trail
  once. (A signal that arrived before its step opened was not applied, so a retry once the step is
  open counts, like a first delivery.)
* **Deterministic.** Time is an argument; weights are snapshotted from track records and the policy
  from configuration when the decision opens, so replaying the same signals rebuilds the same state.
* **Serialisable.** ``to_dict``/``from_dict`` use plain JSON types.
* **Audited.** Every accepted vote (with the weight it counted for, its rationale, round and term),
  every contribution, every rejected or ignored signal, every round's outcome and the end result.

Rounds are numbered across the whole decision (vote rounds and debate rounds share one counter), so
a round number identifies one step of one stage. Once the decision's own ``deadline`` has passed,
stages that would wait for agents are skipped; a final vote over debate positions still runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from services.consensus.actions import (
    Action,
    DecisionEscalated,
    DecisionReached,
    OpenVoteRound,
    RequestContributions,
)
from services.consensus.audit import AuditEntry
from services.consensus.debate import Contribution, Debate, Phase
from services.consensus.protocols.outcome import Outcome
from services.consensus.protocols.vote import Vote
from services.consensus.protocols.voting_protocol import VotingProtocol
from services.consensus.settlement import is_settled
from services.consensus.tiers import TIERS, DebateStage, Tier, TierPolicies, TierPolicy, VoteStage
from services.consensus.track_record import TrackRecord, weights_from_track_records

Status = Literal["open", "reached", "escalated"]
NOTED_KINDS = frozenset({"vote_rejected", "vote_ignored", "contribution_rejected", "contribution_ignored"})


@dataclass(frozen=True)
class DecisionRequest:
    """Decide ``question`` among ``options`` (None: free answers) at ``tier``, by ``electorate``,
    before ``deadline`` (absolute seconds; None: only per-step timeouts apply)."""

    decision_id: str
    question: str
    tier: Tier
    electorate: tuple[str, ...]
    options: tuple[str, ...] | None = None
    deadline: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "electorate", tuple(sorted(set(self.electorate))))
        if self.options is not None:
            object.__setattr__(self, "options", tuple(dict.fromkeys(self.options)))
        if not self.decision_id:
            raise ValueError("a decision needs an id")
        if self.tier not in TIERS:
            raise ValueError(f"unknown tier {self.tier!r}")
        if not self.electorate:
            raise ValueError("a decision needs an electorate")
        if self.options is not None and not self.options:
            raise ValueError("options, when given, must not be empty")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "decision_id": self.decision_id,
            "question": self.question,
            "tier": self.tier,
            "electorate": list(self.electorate),
            "options": None if self.options is None else list(self.options),
            "deadline": self.deadline,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DecisionRequest:
        """Inverse of :meth:`to_dict`."""
        options = data.get("options")
        return cls(
            decision_id=str(data["decision_id"]),
            question=str(data["question"]),
            tier=data["tier"],
            electorate=tuple(data["electorate"]),
            options=None if options is None else tuple(options),
            deadline=data.get("deadline"),
        )


@dataclass(frozen=True)
class VoteStep:
    """Waiting for votes of ``round`` until ``deadline``."""

    step_id: str
    round: int
    deadline: float


@dataclass(frozen=True)
class DebateStep:
    """Waiting for contributions to the current phase of the current debate until ``deadline``."""

    step_id: str
    round: int
    deadline: float


Step = VoteStep | DebateStep


def _step_to_dict(step: Step | None) -> dict[str, Any] | None:
    if step is None:
        return None
    kind = "vote" if isinstance(step, VoteStep) else "debate"
    return {"kind": kind, "step_id": step.step_id, "round": step.round, "deadline": step.deadline}


def _step_from_dict(data: Mapping[str, Any] | None) -> Step | None:
    if data is None:
        return None
    kind = VoteStep if data["kind"] == "vote" else DebateStep
    return kind(str(data["step_id"]), int(data["round"]), float(data["deadline"]))


@dataclass(frozen=True)
class Transition:
    """The decision after a signal, and what the service must do about it."""

    decision: Decision
    actions: tuple[Action, ...] = ()


@dataclass
class Decision:
    """State of one decision. Treat instances as immutable: every public method returns a new one.

    ``ballots`` holds the accepted votes of every vote round: the first copy of each (voter, choice),
    so an equivocator's conflicting votes are all kept for the protocols to flag. ``debates`` holds
    every debate held, the current one last.
    """

    request: DecisionRequest
    policy: TierPolicy
    weights: dict[str, float]
    status: Status = "open"
    stage: int = 0
    round: int = 0
    term: int = 0
    step: Step | None = None
    ballots: dict[int, tuple[Vote, ...]] = field(default_factory=dict)
    debates: tuple[Debate, ...] = ()
    outcome: Outcome | None = None
    audit: tuple[AuditEntry, ...] = ()

    # -- public API ---------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        request: DecisionRequest,
        now: float,
        policies: TierPolicies | None = None,
        track_records: Mapping[str, TrackRecord] | None = None,
    ) -> Transition:
        """Start deciding ``request`` under its tier's policy; weights come from ``track_records``."""
        policy = (policies or TierPolicies()).for_tier(request.tier)
        decision = cls(request, policy, weights_from_track_records(request.electorate, track_records or {}))
        actions: list[Action] = []
        decision._log(now, "requested", None, {"request": request.to_dict(), "weights": decision.weights})
        decision._advance(now, actions)
        return Transition(decision, tuple(actions))

    def cast(self, vote: Vote, now: float) -> Transition:
        """Consume a vote."""
        return self._transition(lambda draft, actions: draft._cast(vote, now, actions))

    def contribute(self, contribution: Contribution, now: float) -> Transition:
        """Consume a debate contribution."""
        return self._transition(lambda draft, actions: draft._contribute(contribution, now, actions))

    def deadline_passed(self, step_id: str, now: float) -> Transition:
        """Consume the deadline signal of ``step_id``; signals for steps already over are ignored."""
        return self._transition(lambda draft, actions: draft._deadline_passed(step_id, now, actions))

    @property
    def choice(self) -> str | None:
        """The decided choice, once reached."""
        return self.outcome.choice if self.status == "reached" and self.outcome else None

    @property
    def current_step_id(self) -> str | None:
        """The step the decision is waiting on, if any."""
        return None if self.step is None else self.step.step_id

    @property
    def positions(self) -> dict[str, str]:
        """The agents' latest positions in the most recent debate."""
        return self.debates[-1].positions() if self.debates else {}

    def votes_of(self, round_number: int) -> tuple[Vote, ...]:
        """The accepted votes of ``round_number``."""
        return self.ballots.get(round_number, ())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form of the whole state, audit trail included."""
        return {
            "request": self.request.to_dict(),
            "policy": self.policy.to_dict(),
            "weights": dict(self.weights),
            "status": self.status,
            "stage": self.stage,
            "round": self.round,
            "term": self.term,
            "step": _step_to_dict(self.step),
            "ballots": {str(r): [v.to_dict() for v in votes] for r, votes in self.ballots.items()},
            "debates": [d.to_dict() for d in self.debates],
            "outcome": None if self.outcome is None else self.outcome.to_dict(),
            "audit": [entry.to_dict() for entry in self.audit],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        """Inverse of :meth:`to_dict`."""
        outcome = data.get("outcome")
        return cls(
            request=DecisionRequest.from_dict(data["request"]),
            policy=TierPolicy.from_dict(data["policy"]),
            weights={str(a): float(w) for a, w in data["weights"].items()},
            status=data["status"],
            stage=int(data["stage"]),
            round=int(data["round"]),
            term=int(data["term"]),
            step=_step_from_dict(data.get("step")),
            ballots={int(r): tuple(Vote.from_dict(v) for v in votes) for r, votes in data["ballots"].items()},
            debates=tuple(Debate.from_dict(d) for d in data["debates"]),
            outcome=None if outcome is None else Outcome.from_dict(outcome),
            audit=tuple(AuditEntry.from_dict(e) for e in data["audit"]),
        )

    # -- signal handling (on a private draft copy) --------------------------------------------------

    def _transition(self, apply: Callable[[Decision, list[Action]], None]) -> Transition:
        # Everything a draft changes is reassigned (tuples, frozen values) except these two dicts, so copying
        # them is enough to leave ``self`` untouched; a deep copy made long decisions quadratic in their trail.
        draft = replace(self, ballots=dict(self.ballots), weights=dict(self.weights))
        actions: list[Action] = []
        apply(draft, actions)
        return Transition(draft, tuple(actions))

    def _cast(self, vote: Vote, now: float, actions: list[Action]) -> None:
        accepted = self.ballots.get(vote.round, ())
        if any((v.voter, v.choice) == (vote.voter, vote.choice) for v in accepted):
            return
        # Permanent reasons first, so a redelivered bad vote is always noted as the same fact.
        if vote.voter not in self.request.electorate:
            self._note(now, "vote_rejected", vote, "voter is not in the electorate")
            return
        if self.request.options is not None and vote.choice not in self.request.options:
            self._note(now, "vote_rejected", vote, "choice is not one of the options")
            return
        step = self.step
        if self.status != "open" or not isinstance(step, VoteStep) or step.round != vote.round:
            self._note(now, "vote_ignored", vote, f"round {vote.round} is not open for votes")
            return
        stamped = replace(vote, weight=self.weights[vote.voter], term=self.term)
        equivocating = any(v.voter == vote.voter for v in accepted)
        self.ballots[vote.round] = (*accepted, stamped)
        self._log(now, "equivocation" if equivocating else "vote", vote.round, stamped.to_dict())
        votes = self.ballots[vote.round]
        voted = {v.voter for v in votes}
        if voted >= set(self.request.electorate):
            self._close_vote_round(now, actions, "every voter voted")
        elif is_settled(self._protocol(), votes, self.request.electorate, self.request.options):
            self._close_vote_round(now, actions, "outcome can no longer change")

    def _contribute(self, contribution: Contribution, now: float, actions: list[Action]) -> None:
        if any(contribution in debate.contributions for debate in self.debates):
            return
        # Permanent reasons first, so a redelivered bad contribution is always noted as the same fact.
        position, options = contribution.position, self.request.options
        if contribution.agent not in self.request.electorate:
            self._note(now, "contribution_rejected", contribution, "agent is not in the electorate")
            return
        if contribution.phase != Phase.CRITIQUE and position is not None and options and position not in options:
            self._note(now, "contribution_rejected", contribution, "position is not one of the options")
            return
        slot = (contribution.agent, contribution.round, contribution.phase)
        if any((c.agent, c.round, c.phase) == slot for debate in self.debates for c in debate.contributions):
            self._note(now, "contribution_ignored", contribution, "agent already contributed to this phase")
            return
        previous = self.debates[-1] if self.debates else None
        waiting = self.status == "open" and isinstance(self.step, DebateStep)
        if not waiting or previous is None or (previous.round, previous.phase) != slot[1:]:
            self._note(now, "contribution_ignored", contribution, f"round {slot[1]} {slot[2]} is not open")
            return
        debate, _ = previous.accept(contribution)
        self.debates = (*self.debates[:-1], debate)
        self._log(now, "contribution", contribution.round, contribution.to_dict())
        self._after_debate_progress(previous, now, actions, "every agent contributed")

    def _deadline_passed(self, step_id: str, now: float, actions: list[Action]) -> None:
        if self.status != "open" or self.step is None or self.step.step_id != step_id:
            return
        if isinstance(self.step, VoteStep):
            self._close_vote_round(now, actions, "deadline passed")
        else:
            previous = self.debates[-1]
            self.debates = (*self.debates[:-1], previous.close_phase())
            self._after_debate_progress(previous, now, actions, "deadline passed")

    # -- stages -------------------------------------------------------------------------------------

    def _advance(self, now: float, actions: list[Action]) -> None:
        """Start the current stage, skipping what the deadline rules out; escalate when none is left."""
        skipped = False
        while self.stage < len(self.policy.stages):
            stage = self.policy.stages[self.stage]
            waits_for_agents = isinstance(stage, DebateStage) or stage.ballot == "fresh"
            if waits_for_agents and self._past_deadline(now):
                self._log(now, "stage_skipped", None, {"stage": self.stage, "reason": "decision deadline passed"})
                skipped = True
            elif not waits_for_agents and not self.debates:
                self._log(now, "stage_skipped", None, {"stage": self.stage, "reason": "no debate positions to count"})
            elif isinstance(stage, DebateStage):
                self._start_debate(stage, now, actions)
                return
            elif stage.ballot == "fresh":
                self._open_vote_round(now, actions)
                return
            elif self._vote_on_positions(now, actions):
                return
            self.stage += 1
        reason = "decision deadline passed before a choice was reached" if skipped else self.policy.escalation
        self._escalate(reason, now, actions)

    def _vote_stage(self) -> VoteStage:
        stage = self.policy.stages[self.stage]
        assert isinstance(stage, VoteStage)
        return stage

    def _protocol(self) -> VotingProtocol:
        spec = self._vote_stage().protocol
        return spec.build(decision_id=self.request.decision_id, term=self.term, weights=self.weights)

    def _open_vote_round(self, now: float, actions: list[Action]) -> None:
        self.round += 1
        deadline = self._step_deadline(now)
        self.step = VoteStep(f"r{self.round}:vote", self.round, deadline)
        self.ballots[self.round] = ()
        protocol = self._protocol()
        self._log(now, "round_opened", self.round, {"protocol": protocol.name, "term": self.term, "deadline": deadline})
        actions.append(
            OpenVoteRound(
                decision_id=self.request.decision_id,
                step_id=self.step.step_id,
                round=self.round,
                term=self.term,
                question=self.request.question,
                options=self.request.options,
                voters=self.request.electorate,
                protocol=protocol.name,
                deadline=deadline,
            )
        )

    def _close_vote_round(self, now: float, actions: list[Action], why: str) -> None:
        round_number = self.round
        outcome = self._protocol().decide(self.ballots[round_number], self.request.electorate)
        self._finish_round(outcome, round_number, why, now, actions)

    def _vote_on_positions(self, now: float, actions: list[Action]) -> bool:
        """Count the last debate's final positions as votes; True if that decided."""
        self.round += 1
        stances = self.debates[-1].stances()
        votes = tuple(
            Vote(agent, c.position, self.weights[agent], c.text, self.round, self.term)
            for agent, c in stances.items()
            if c.position is not None
        )
        self.ballots[self.round] = votes
        protocol = self._protocol()
        self._log(now, "round_opened", self.round, {"protocol": protocol.name, "ballot": "debate_positions"})
        for vote in votes:
            self._log(now, "vote", self.round, vote.to_dict())
        outcome = protocol.decide(votes, self.request.electorate)
        self._finish_round(outcome, self.round, "final debate positions counted", now, actions, advance=False)
        return outcome.decided

    def _finish_round(
        self, outcome: Outcome, round_number: int, why: str, now: float, actions: list[Action], advance: bool = True
    ) -> None:
        self.outcome = outcome
        self.step = None
        if outcome.term is not None:
            self.term = outcome.term
        self._log(now, "round_closed", round_number, {"why": why, "outcome": outcome.to_dict()})
        if outcome.decided:
            self._reach(outcome, now, actions)
        elif advance:
            self.stage += 1
            self._advance(now, actions)

    def _start_debate(self, stage: DebateStage, now: float, actions: list[Action]) -> None:
        self.round += 1
        debate = Debate.start(self.request.electorate, stage.rules, first_round=self.round)
        self.debates = (*self.debates, debate)
        self._log(now, "debate_started", self.round, {"rules": stage.rules.to_dict()})
        self._open_phase(now, actions)

    def _open_phase(self, now: float, actions: list[Action]) -> None:
        debate = self.debates[-1]
        self.round = debate.round
        deadline = self._step_deadline(now)
        self.step = DebateStep(f"r{debate.round}:{debate.phase}", debate.round, deadline)
        self._log(now, "phase_opened", debate.round, {"phase": str(debate.phase), "deadline": deadline})
        actions.append(
            RequestContributions(
                decision_id=self.request.decision_id,
                step_id=self.step.step_id,
                round=debate.round,
                phase=debate.phase,
                question=self.request.question,
                options=self.request.options,
                requests=debate.expected(),
                context=debate.context(),
                deadline=deadline,
            )
        )

    def _after_debate_progress(self, previous: Debate, now: float, actions: list[Action], why: str) -> None:
        debate = self.debates[-1]
        if (debate.round, debate.phase, debate.status) == (previous.round, previous.phase, previous.status):
            return
        self._log(now, "phase_closed", previous.round, {"phase": str(previous.phase), "why": why})
        cut_short = debate.status == "running" and self._past_deadline(now)
        if cut_short:
            debate = debate.stop()
            self.debates = (*self.debates[:-1], debate)
        if debate.status == "running":
            self._open_phase(now, actions)
            return
        self.step = None
        position, share = debate.agreement()
        tally = dict(sorted(Counter(debate.positions().values()).items()))
        if debate.status == "converged":
            reason = f"converged in round {debate.round}: {share} of agents hold {position!r}"
            self._log(now, "debate_converged", debate.round, {"position": position, "share": str(share)})
            self._reach(Outcome("debate", position, tally, (reason,), term=self.term), now, actions)
            return
        ended = "the decision deadline passed" if cut_short else "its last round"
        reason = f"no convergence by {ended}, after {debate.rounds_held} rounds (best agreement {share})"
        self._log(now, "debate_exhausted", debate.round, {"positions": debate.positions(), "share": str(share)})
        self.outcome = Outcome("debate", None, tally, (reason,), term=self.term)
        self.stage += 1
        self._advance(now, actions)

    def _reach(self, outcome: Outcome, now: float, actions: list[Action]) -> None:
        assert outcome.choice is not None
        self.status = "reached"
        self.outcome = outcome
        self.step = None
        self._log(now, "reached", self.round, {"choice": outcome.choice, "protocol": outcome.protocol})
        actions.append(DecisionReached(self.request.decision_id, outcome.choice, outcome))

    def _escalate(self, reason: str, now: float, actions: list[Action]) -> None:
        self.status = "escalated"
        self.step = None
        self._log(now, "escalated", self.round, {"reason": reason})
        actions.append(DecisionEscalated(self.request.decision_id, reason, self.positions, self.outcome))

    # -- small pieces -------------------------------------------------------------------------------

    def _step_deadline(self, now: float) -> float:
        deadline = now + self.policy.step_timeout_s
        return deadline if self.request.deadline is None else min(deadline, self.request.deadline)

    def _past_deadline(self, now: float) -> bool:
        return self.request.deadline is not None and now >= self.request.deadline

    def _log(self, now: float, kind: str, round_number: int | None, details: Mapping[str, Any]) -> None:
        self.audit = (*self.audit, AuditEntry(now, kind, round_number, dict(details)))

    def _note(self, now: float, kind: str, signal: Vote | Contribution, reason: str) -> None:
        """Log a rejected or ignored signal once, with the reason it had the first time, however often
        and whenever it is redelivered."""
        fact = signal.to_dict()
        for entry in self.audit:
            if entry.kind in NOTED_KINDS and {k: v for k, v in entry.details.items() if k != "reason"} == fact:
                return
        self.audit = (*self.audit, AuditEntry(now, kind, signal.round, {**fact, "reason": reason}))


def replay(
    request: DecisionRequest,
    signals: Iterable[tuple[float, Vote | Contribution | str]],
    policies: TierPolicies | None = None,
    track_records: Mapping[str, TrackRecord] | None = None,
    opened_at: float = 0.0,
) -> tuple[Decision, tuple[Action, ...]]:
    """Rebuild a decision from its log: open at ``opened_at``, then apply ``(now, signal)`` pairs
    (a vote, a contribution, or a step id whose deadline passed). Returns the state and all actions."""
    transition = Decision.open(request, opened_at, policies, track_records)
    decision, actions = transition.decision, list(transition.actions)
    for now, signal in signals:
        if isinstance(signal, Vote):
            transition = decision.cast(signal, now)
        elif isinstance(signal, Contribution):
            transition = decision.contribute(signal, now)
        else:
            transition = decision.deadline_passed(signal, now)
        decision = transition.decision
        actions.extend(transition.actions)
    return decision, tuple(actions)
