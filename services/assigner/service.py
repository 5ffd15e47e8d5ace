"""Assigner: keeps the agent registry, routes every task to an agent, and decides retries.

Reads agent commands and events, task events and auction events, and follows the lock manager's leases (a task
given back for a lock conflict is retried as soon as its files are free: ``lock_wake``); writes AgentRegistered,
TaskAssigned (+ the ExecuteTask addressed to the agent), TaskRetryScheduled / TaskAbandoned, TaskEscalated,
breaker changes and scheduled retries / auction closings.

Agents report TaskStarted / TaskSucceeded / TaskFailed on ``architect.agents.reports``. Each report is checked
(``report_check``): it must come from the agent its attempt is assigned to, signed with that agent's credential
when ``ARCHITECT_AGENT_IDENTITY_SECRET`` is set. Accepted reports are published unchanged (same event id) to
``architect.tasks.events``, where every other service reads them; rejected ones are dead-lettered with the
reason and change nothing. State (registry and task book) lives in a compacted topic and each batch
commits its events, its state and its offsets in one Kafka transaction.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from services.assigner.assign_rule import RoutingRules
from services.assigner.lease_watch import LeaseWatch
from services.assigner.lock_wake import may_retry_now, waits_for_files
from services.assigner.registry import AgentRegistry
from services.assigner.report_check import check_report
from services.assigner.retry_policy import NOT_AGENT_FAULTS, next_retry
from services.assigner.routing import Assign, Bid, Escalate, route, route_by_auction
from services.assigner.settings import AssignerSettings
from services.assigner.task_book import OPEN_STATES, TrackedTask, open_in_routing_order
from shared import tracing
from shared.agent_identity import REPORT_TYPES, SIGNATURE_HEADER, verify
from shared.bus.consumer import ConsumerLoop, Delivery
from shared.bus.dead_letters import dead_letter
from shared.bus.producer import EventProducer
from shared.bus.record import Record
from shared.bus.replies import reply_topic
from shared.bus.state_positions import StatePositions
from shared.bus.state_store import CompactedState
from shared.bus.topics import (
    AGENTS_COMMANDS,
    AGENTS_EVENTS,
    AGENTS_REPORTS,
    ASSIGNER_STATE,
    AUCTIONS_EVENTS,
    DRIFT_EVENTS,
    TASKS_EVENTS,
)
from shared.events.catalogue.agents import AgentDeregistered, AgentRegistered, BreakerStateChanged
from shared.events.catalogue.tasks import (
    TaskAbandoned,
    TaskAssigned,
    TaskEscalated,
    TaskRetryDue,
    TaskRetryScheduled,
)
from shared.events.catalogue.work import AuctionClosed, ExecuteTask, TaskAnnounced
from shared.events.codec import caused_by, new_event
from shared.events.envelope import DERIVED_EVENT_NAMESPACE, Envelope, Payload
from shared.events.scheduling_client import schedule
from shared.events.task_files import BadFilesInput, declared_files
from shared.metrics import BREAKER_OPEN
from shared.settings import Settings

log = logging.getLogger(__name__)
GROUP = "architect-assigner"
#: What the assigner reads: agents' commands, events and reports; tasks; auctions; drift.
TOPICS = (AGENTS_COMMANDS, AGENTS_EVENTS, AGENTS_REPORTS, TASKS_EVENTS, AUCTIONS_EVENTS, DRIFT_EVENTS)
PRODUCER = "assigner"
REGISTRY_KEY = "registry"
ANCHORS_KEY = "anchors"
TASK_PREFIX = "task/"
#: A finished task's entry: ``{FINISHED_AT: time}`` under its task key (one record where a tombstone and a marker
#: of its own were two).
FINISHED_AT = "finished_at"
#: Where finished markers were kept before; still read, and deleted when they expire.
FINISHED_PREFIX = "finished/"


def stable_id(*parts: object) -> uuid.UUID:
    """An event id that depends only on what the event is about (so a re-decision gets the same id)."""
    return uuid.uuid5(DERIVED_EVENT_NAMESPACE, ":".join(str(p) for p in parts))


class Assigner:
    """Handlers are named ``on_<EventType>`` and return whether agent capacity may have freed up."""

    def __init__(self, settings: Settings, options: AssignerSettings | None = None) -> None:
        self.options = options or AssignerSettings()
        secret = settings.agent_identity_secret
        self.identity_secret = secret.get_secret_value() if secret is not None else None
        self.rules = RoutingRules(self.options.heartbeat_timeout_s, self.options.min_stability)
        self.policy = self.options.policy()
        self.producer = EventProducer(
            settings, client_id="assigner", transactional_id=f"{GROUP}-{self.options.instance_id}"
        )
        self.state = CompactedState(settings, ASSIGNER_STATE, self.producer)
        # The lock manager's leases, followed while a task waits for a retry after a lock conflict (``lock_wake``).
        self.leases = LeaseWatch(settings, f"assigner-{self.options.instance_id}", self.producer)
        # The positions it read to (``offsets/<topic>:<partition>``), in its state, committed with each batch.
        self.offsets = StatePositions(self.state)
        self.registry = self._empty_registry()
        self.tasks: dict[str, TrackedTask] = {}
        self._dirty_tasks: set[str] = set()
        # Finished (done or abandoned) task id -> when; kept finished_retention_s, in the state topic too.
        self.finished: dict[str, float] = {}
        self._marked_apart: set[str] = set()
        # ABA: the baseline examples the drift monitor chose for each drifting agent's next assignments.
        self.anchors: dict[str, list[str]] = {}
        self._anchors_dirty = False
        self.loop = ConsumerLoop(
            settings,
            group_id=GROUP,
            topics=list(TOPICS),
            producer=self.producer,
            batch_handler=self.handle_batch,
            # Positions are kept in the state topic, in the batch's transaction: a commit is then the produce
            # and EndTxn, without AddOffsetsToTxn and TxnOffsetCommit (two round trips of four).
            offset_store=self.offsets,
            before_commit=self.save_state,
            on_abort=self.load_state,
            tick=self.tick,
            # A poll ends at the first record the assigner acts on (``poll_timeout`` only paces idle ticks): what
            # came in during the last transaction is handled together in the next. Its records reach the broker
            # only when it commits (``TRANSACTION_LINGER_MS``), so the open transaction does not hide the task
            # topic from read_committed consumers (this one included) while the batch is handled.
            poll_timeout=0.05,
            wake_on_record=True,
            # Each commit runs while the next batch is handled (``shared.bus.background_commit``): commits were
            # most of the loop's time, and a TaskCreated arriving during one waited for it.
            commit_in_background=True,
            accepts=self.acts_on,
        )
        self._last_tick = 0.0
        self._saved_registry: AgentRegistry | None = None

    # -- state ------------------------------------------------------------------------------------------------
    def load_state(self) -> None:
        self.state.load()
        registry = self.state.get(REGISTRY_KEY)
        self.registry = (
            replace(AgentRegistry.from_dict(registry), breaker_policy=self.options.breaker_policy())
            if registry
            else self._empty_registry()
        )
        self._saved_registry = self.registry if registry else None
        self.tasks, self.finished = {}, {}
        for key, value in self.state.items(TASK_PREFIX):
            task_id = key.removeprefix(TASK_PREFIX)
            if FINISHED_AT in value:
                self.finished[task_id] = float(value[FINISHED_AT])
            else:
                self.tasks[task_id] = TrackedTask.from_dict(value)
        self._dirty_tasks.clear()
        # Finished markers of their own key, as written before a task's entry became its marker.
        marked_apart = {key.removeprefix(FINISHED_PREFIX): float(at) for key, at in self.state.items(FINISHED_PREFIX)}
        self.finished.update(marked_apart)
        self._marked_apart = set(marked_apart)
        self.anchors = {str(k): list(v) for k, v in (self.state.get(ANCHORS_KEY) or {}).items()}
        self._anchors_dirty = False

    def _empty_registry(self) -> AgentRegistry:
        return AgentRegistry(
            heartbeat_timeout_s=self.options.heartbeat_timeout_s, breaker_policy=self.options.breaker_policy()
        )

    def save_state(self) -> None:
        if self.registry is not self._saved_registry:  # immutable: a changed registry is a new object
            self.state.put(REGISTRY_KEY, self.registry.to_dict())
            self._saved_registry = self.registry
        if self._anchors_dirty:
            self.state.put(ANCHORS_KEY, self.anchors)
            self._anchors_dirty = False
        for task_id in self._dirty_tasks:
            task = self.tasks.get(task_id)
            if task is not None and task.state in OPEN_STATES:
                self.state.put(f"{TASK_PREFIX}{task_id}", task.to_dict())
                continue
            self.tasks.pop(task_id, None)
            if task is None:
                self.state.delete(f"{TASK_PREFIX}{task_id}")
                continue
            # One record: the finished task's entry becomes its marker, kept for ``finished_retention_s``.
            at = self.finished.setdefault(task_id, time.time())
            self.state.put(f"{TASK_PREFIX}{task_id}", {FINISHED_AT: at})
        self._dirty_tasks.clear()
        self.state.flush()

    def _set(self, task: TrackedTask) -> None:
        self.tasks[task.task_id] = task
        self._dirty_tasks.add(task.task_id)

    # -- handling ---------------------------------------------------------------------------------------------
    @classmethod
    def acts_on(cls, topic: str, event_type: str) -> bool:
        """Whether a record of ``event_type`` on ``topic`` concerns the assigner (others are skipped undecoded)."""
        if topic == AGENTS_REPORTS:
            return True
        return event_type not in REPORT_TYPES and event_type in _HANDLED

    def handle_batch(self, deliveries: Sequence[Delivery], _records: Sequence[Record]) -> None:
        capacity_changed = False
        for delivery in deliveries:
            envelope, record = delivery.envelope, delivery.record
            is_report = record.topic == AGENTS_REPORTS
            if envelope.type in REPORT_TYPES and not is_report:
                continue  # the facts this assigner published from accepted reports
            handler = getattr(self, f"on_{envelope.type}", None)
            if handler is None and not is_report:
                continue
            with tracing.consume_span(
                record.topic,
                record.headers,
                f"assign {envelope.type}",
                envelope=envelope,
            ):
                if is_report and not self._accept_report(delivery):
                    continue
                if handler is not None:
                    capacity_changed |= bool(handler(envelope))
        if capacity_changed:
            self.dispatch_pending(time.time())

    def _accept_report(self, delivery: Delivery) -> bool:
        """Publish an agent's report as a fact if it comes from the agent holding the attempt; else dead-letter it."""
        envelope, record = delivery.envelope, delivery.record
        payload = envelope.payload
        signature = next((v for k, v in record.headers if k == SIGNATURE_HEADER), None)
        verdict = verify(self.identity_secret, str(getattr(payload, "agent_id", "")), record.value, signature)
        task = self.tasks.get(str(getattr(payload, "task_id", "")))
        rejection = check_report(envelope, task, verdict)
        if rejection is not None:
            log.warning("rejected agent report %s: %s (%s)", envelope.event_id, rejection.error, rejection.reason)
            dead_letter(self.producer, record, reason=rejection.reason, error=rejection.error, group=GROUP)
            return False
        self._emit_outcome(envelope, task)
        return True

    def on_RegisterAgent(self, e: Envelope[Any]) -> bool:
        p = e.payload
        self.registry = self.registry.register(p.agent_id, p.capabilities, time.time(), p.role, p.capacity, p.cost)
        registered = AgentRegistered(
            agent_id=p.agent_id,
            role=p.role,
            capabilities=p.capabilities,
            capacity=p.capacity,
            cost=p.cost,
            model=p.model,
        )
        self._emit(caused_by(e, registered, producer=PRODUCER, kind="registered"))
        return True

    def on_DeregisterAgent(self, e: Envelope[Any]) -> bool:
        self.registry = self.registry.deregister(e.payload.agent_id)
        self._emit(
            caused_by(
                e,
                AgentDeregistered(agent_id=e.payload.agent_id, reason=e.payload.reason),
                producer=PRODUCER,
                kind="deregistered",
            )
        )
        return False

    def on_AgentHeartbeat(self, e: Envelope[Any]) -> bool:
        p = e.payload
        before = self.registry.get(p.agent_id)
        was_alive = self.registry.is_alive(p.agent_id, time.time())
        self.registry = self.registry.heartbeat(p.agent_id, e.occurred_at.timestamp(), lease_waits=p.lease_waits)
        # Tasks waiting for file leases hold no slot: more of them may free capacity.
        return not was_alive or (before is not None and p.lease_waits > before.lease_waits)

    def on_AgentStopped(self, e: Envelope[Any]) -> bool:
        self.registry = self.registry.stopped(e.payload.agent_id, e.occurred_at.timestamp())
        return False

    def on_StabilityScored(self, e: Envelope[Any]) -> bool:
        """Drift-aware routing: the agent's stability (below the reset threshold it gets no work) and anchors."""
        p = e.payload
        before = self.registry.get(p.agent_id)
        self.registry = self.registry.set_stability(p.agent_id, p.stability)
        self._set_anchors(p.agent_id, list(p.anchors))
        return before is not None and before.stability < self.rules.min_stability <= p.stability

    def on_AgentReset(self, e: Envelope[Any]) -> bool:
        """A reset agent starts a new session: fully stable again, with nothing to be anchored to."""
        self.registry = self.registry.set_stability(e.payload.agent_id, 1.0)
        self._set_anchors(e.payload.agent_id, [])
        return True

    def _set_anchors(self, agent_id: str, anchors: list[str]) -> None:
        if self.anchors.get(agent_id, []) != anchors:
            if anchors:
                self.anchors[agent_id] = anchors
            else:
                self.anchors.pop(agent_id, None)
            self._anchors_dirty = True

    def on_TaskCreated(self, e: Envelope[Any]) -> bool:
        p = e.payload
        if p.task_id in self.tasks or p.task_id in self.finished:
            return False  # delivered again: it is under way or was finished (dispatching it again runs it twice)
        task = TrackedTask(
            task_id=p.task_id,
            goal_id=p.goal_id,
            operator=p.operator,
            capability=p.capability,
            created_at=e.occurred_at.timestamp(),
            inputs=p.inputs,
            priority=p.priority,
            strategy=p.strategy,
            timeout_s=p.timeout_s,
            trace=tracing.current_trace_headers(),
            reply_to=p.reply_to,
        )
        self._set(task)
        self.dispatch(task, time.time(), cause=e)
        return False

    def on_TaskStarted(self, e: Envelope[Any]) -> bool:
        task = self.tasks.get(e.payload.task_id)
        if task is not None:
            # In memory only: every rule treats a running attempt as an assigned one, so a restart that restores
            # it as assigned changes nothing, and the state topic is spared a record per task.
            self.tasks[task.task_id] = task.started(e.payload.attempt)
        return False

    def on_TaskSucceeded(self, e: Envelope[Any]) -> bool:
        task = self.tasks.get(e.payload.task_id)
        if task is None or not task.is_current(e.payload.attempt, "assigned", "running"):
            return False
        self._record_result(task.agent_id or e.payload.agent_id, succeeded=True, cause=e)
        self._set(task.finished())
        return True

    def on_TaskFailed(self, e: Envelope[Any]) -> bool:
        return self._failed(e, e.payload.error_class, e.payload.error)

    def on_TaskTimedOut(self, e: Envelope[Any]) -> bool:
        return self._failed(e, "timeout", f"no result within {e.payload.timeout_s:g}s")

    def _failed(self, e: Envelope[Any], error_class: str, error: str) -> bool:
        p = e.payload
        task = self.tasks.get(p.task_id)
        if task is None or not task.is_current(p.attempt, "assigned", "running"):
            return False
        if error_class in NOT_AGENT_FAULTS:
            self.registry = self.registry.record_given_back(task.agent_id or "", time.time())
        else:
            self._record_result(task.agent_id or "", succeeded=False, cause=e)
        jitter = random.Random(stable_id(task.task_id, p.attempt).int)
        decision = next_retry(self.policy, error_class, p.attempt, jitter)
        if decision.retry:
            files = self._conflicting_files(task) if error_class == "lock_conflict" else ()
            waiting = task.waiting_for_retry(files, cause=str(e.event_id))
            self._set(waiting)
            scheduled = TaskRetryScheduled(
                task_id=task.task_id,
                goal_id=task.goal_id,
                attempt=waiting.attempt,
                delay_s=decision.delay_s,
                reason=decision.reason,
            )
            self._emit(
                new_event(
                    scheduled,
                    producer=PRODUCER,
                    stream_id=task.goal_id,
                    correlation_id=task.goal_id,
                    causation_id=e.event_id,
                    event_id=stable_id(task.task_id, p.attempt, "retry"),
                )
            )
            self._emit(schedule(retry_due_event(waiting), delay_s=decision.delay_s, producer=PRODUCER))
        else:
            self._set(task.abandoned())
            abandoned = TaskAbandoned(
                task_id=task.task_id,
                goal_id=task.goal_id,
                attempt=p.attempt,
                error_class=error_class,
                reason=f"{decision.reason}; last error: {error}",
            )
            self._emit_outcome(
                new_event(
                    abandoned,
                    producer=PRODUCER,
                    stream_id=task.goal_id,
                    correlation_id=task.goal_id,
                    causation_id=e.event_id,
                    event_id=stable_id(task.task_id, p.attempt, "abandoned"),
                ),
                task,
            )
        return True

    def on_TaskRetryDue(self, e: Envelope[Any]) -> bool:
        task = self.tasks.get(e.payload.task_id)
        if task is None:
            return False
        due = task.retry_due(e.payload.attempt)
        if due is not task:
            due = replace(due, trace=tracing.current_trace_headers())
            self._set(due)
            self.dispatch(due, time.time(), cause=e)
        return False

    @staticmethod
    def _conflicting_files(task: TrackedTask) -> tuple[str, ...]:
        try:
            return declared_files(task.inputs)
        except BadFilesInput:  # the runtime gave it back for files it could read: nothing to wake it by
            return ()

    def on_BidPlaced(self, e: Envelope[Any]) -> bool:
        task = self.tasks.get(e.payload.task_id)
        if task is not None:
            self._set(task.with_bid(Bid(e.payload.agent_id, e.payload.cost, e.payload.eta_s)))
        return False

    def on_AuctionClosed(self, e: Envelope[Any]) -> bool:
        task = self.tasks.get(e.payload.task_id)
        if task is None or task.state != "announced":
            return False
        decision = route_by_auction(task.view(), self.registry.views(), task.bids, time.time(), self.rules)
        self._apply(task, decision, time.time(), cause=e)
        return False

    # -- routing ----------------------------------------------------------------------------------------------
    def dispatch_pending(self, now: float) -> None:
        for task in open_in_routing_order(self.tasks.values()):
            if not any(a.free_capacity > 0 for a in self.registry.alive(now)):
                return
            with tracing.resumed_context(task.trace):
                self.dispatch(task, now, cause=None)

    def dispatch(self, task: TrackedTask, now: float, cause: Envelope[Any] | None) -> None:
        if task.state != "pending":
            return
        if task.strategy == "auction":
            self._announce(task, cause)
            return
        strategy = "drift_aware" if task.strategy == "drift_aware" else "least_loaded"
        self._apply(task, route(task.view(), self.registry.views(), now, strategy, self.rules), now, cause)

    def _apply(self, task: TrackedTask, decision: Any, now: float, cause: Envelope[Any] | None) -> None:
        if isinstance(decision, Escalate):
            decision = self._escalate(task, decision, now, cause)
        if not isinstance(decision, Assign):
            return
        strategy = "priority" if task.strategy == "priority" else decision.strategy
        assigned = task.assigned(decision.agent_id)
        self._set(assigned)
        self.registry = self.registry.record_assignment(decision.agent_id, now)
        causation = cause.event_id if cause else None
        fact = TaskAssigned(
            task_id=task.task_id,
            goal_id=task.goal_id,
            agent_id=decision.agent_id,
            attempt=task.attempt,
            strategy=strategy,
            backup_for=decision.backup_for,
        )
        self._emit(
            new_event(
                fact,
                producer=PRODUCER,
                stream_id=task.goal_id,
                correlation_id=task.goal_id,
                causation_id=causation,
                event_id=stable_id(task.task_id, task.attempt, "assigned"),
            )
        )
        work = ExecuteTask(
            task_id=task.task_id,
            goal_id=task.goal_id,
            agent_id=decision.agent_id,
            attempt=task.attempt,
            operator=task.operator,
            capability=task.capability,
            inputs=dict(task.inputs),
            timeout_s=task.timeout_s,
            anchors=list(self.anchors.get(decision.agent_id, [])),
        )
        self._emit(
            new_event(
                work,
                producer=PRODUCER,
                stream_id=decision.agent_id,
                correlation_id=task.goal_id,
                causation_id=causation,
                event_id=stable_id(task.task_id, task.attempt, "execute"),
            )
        )

    def _escalate(self, task: TrackedTask, decision: Escalate, now: float, cause: Envelope[Any] | None) -> Any:
        """Hand the task to a manager when no capable agent can take it; say so once per attempt."""
        if not task.escalated:
            self._set(task := TrackedTask.from_dict({**task.to_dict(), "escalated": True}))
            note = TaskEscalated(
                task_id=task.task_id, goal_id=task.goal_id, to_role=decision.to_role, reason=decision.reason
            )
            self._emit(
                new_event(
                    note,
                    producer=PRODUCER,
                    stream_id=task.goal_id,
                    correlation_id=task.goal_id,
                    causation_id=cause.event_id if cause else None,
                    event_id=stable_id(task.task_id, task.attempt, "escalated"),
                )
            )
        managers = [
            a
            for a in self.registry.alive(now)
            if a.role == decision.to_role and a.free_capacity > 0 and a.breaker.allows(now)
        ]
        if not managers:
            return decision
        manager = min(managers, key=lambda a: (a.load, a.agent_id))
        return Assign(task.task_id, manager.agent_id, "escalated", decision.reason)

    def _announce(self, task: TrackedTask, cause: Envelope[Any] | None) -> None:
        self._set(task.announced())
        announcement = TaskAnnounced(
            task_id=task.task_id,
            goal_id=task.goal_id,
            operator=task.operator,
            capability=task.capability,
            window_s=self.options.auction_window_s,
        )
        causation = cause.event_id if cause else None
        self._emit(
            new_event(
                announcement,
                producer=PRODUCER,
                stream_id=task.goal_id,
                correlation_id=task.goal_id,
                causation_id=causation,
                event_id=stable_id(task.task_id, task.attempt, "announced"),
            )
        )
        closing = new_event(
            AuctionClosed(task_id=task.task_id, goal_id=task.goal_id),
            producer=PRODUCER,
            stream_id=task.goal_id,
            correlation_id=task.goal_id,
            causation_id=causation,
            event_id=stable_id(task.task_id, task.attempt, "auction-closed"),
        )
        self._emit(schedule(closing, delay_s=self.options.auction_window_s, producer=PRODUCER))

    def _record_result(self, agent_id: str, *, succeeded: bool, cause: Envelope[Any]) -> None:
        now = time.time()
        before = self.registry.get(agent_id)
        self.registry = (self.registry.record_success if succeeded else self.registry.record_failure)(agent_id, now)
        after = self.registry.get(agent_id)
        if before is None or after is None:
            return
        old, new = before.breaker.state_at(now), after.breaker.state_at(now)
        if old != new:
            change = BreakerStateChanged(
                agent_id=agent_id,
                state=new,
                previous=old,
                consecutive_failures=getattr(after.breaker, "consecutive_failures", 0),
            )
            self._emit(caused_by(cause, change, producer=PRODUCER, kind=f"breaker:{agent_id}", stream_id=agent_id))
            log.info("breaker of %s: %s -> %s", agent_id, old, new)

    def _emit(self, event: Envelope[Payload]) -> None:
        self.producer.publish(event)

    def _emit_outcome(self, event: Envelope[Any], task: TrackedTask | None) -> None:
        """Publish a fact about ``task`` and, for an outcome its creator asked to hear about, a copy on the
        creator's reply topic, in the same transaction."""
        self._emit(event)
        copy_to = reply_topic(event.type, task.reply_to if task is not None else None)
        if copy_to is not None:
            self.producer.publish(event, topic=copy_to)

    def tick(self) -> None:
        now = time.time()
        if now - self._last_tick < 1.0:
            return
        self._last_tick = now
        self._forget_finished(now)
        self._retry_lock_conflicts_now(now)
        for agent in self.registry.views():
            BREAKER_OPEN.labels(agent.agent_id).set(1 if agent.breaker.state_at(now) == "open" else 0)
        # Breakers half-open and agents come back by themselves: try what is waiting.
        if any(t.state == "pending" for t in self.tasks.values()):
            self.dispatch_pending(now)

    def _retry_lock_conflicts_now(self, now: float) -> None:
        """Retry the tasks given back for a lock conflict whose files have no live lease any more
        (``lock_wake``): their TaskRetryDue (the scheduled one's id, so the later copy is a duplicate) is
        published now and they are dispatched at once, in their goal's trace."""
        waiting = [t for t in self.tasks.values() if waits_for_files(t)]
        grants = self.leases.grants(bool(waiting), now)
        if grants is None:
            return
        now_ms = int(now * 1000)
        for task in [t for t in waiting if may_retry_now(t, grants, now_ms)]:
            log.info("task %s: its files are free, retrying attempt %d before its backoff", task.task_id, task.attempt)
            woken = task.retry_due(task.attempt)
            self._set(woken)
            with tracing.resumed_context(task.trace):
                due = retry_due_event(task)
                self._emit(due)
                self.dispatch(woken, now, cause=due)

    def _forget_finished(self, now: float) -> None:
        horizon = now - self.options.finished_retention_s
        expired = [task_id for task_id, at in self.finished.items() if at < horizon]
        for task_id in expired:
            del self.finished[task_id]
            apart = task_id in self._marked_apart
            self._marked_apart.discard(task_id)
            self.state.delete(f"{FINISHED_PREFIX if apart else TASK_PREFIX}{task_id}")

    # -- lifecycle --------------------------------------------------------------------------------------------
    def run(self) -> None:
        self.load_state()
        log.info("assigner: %d agent(s), %d open task(s) restored", len(self.registry.agents), len(self.tasks))
        if self.identity_secret is None:
            log.warning(
                "agent reports are checked against assignments but not signatures: "
                "no ARCHITECT_AGENT_IDENTITY_SECRET, so an agent could report under another's name"
            )
        try:
            self.loop.run()
        finally:
            self.leases.close()
            self.producer.flush(30)

    def stop(self) -> None:
        self.loop.stop()


def retry_due_event(task: TrackedTask) -> Envelope[Any]:
    """The TaskRetryDue of ``task``'s next attempt (it waits for it), citing the event that ended the last one."""
    return new_event(
        TaskRetryDue(task_id=task.task_id, goal_id=task.goal_id, attempt=task.attempt),
        producer=PRODUCER,
        stream_id=task.goal_id,
        correlation_id=task.goal_id,
        causation_id=uuid.UUID(task.retry_cause) if task.retry_cause else None,
        event_id=stable_id(task.task_id, task.attempt, "retry-due"),
    )


#: The event types the assigner has an ``on_<type>`` handler for.
_HANDLED = frozenset(name.removeprefix("on_") for name in vars(Assigner) if name.startswith("on_"))
