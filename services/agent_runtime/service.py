"""Agent runtime service: hosts a fleet of agents and runs the work the assigner gives them.

One consumer loop (group ``architect-agent-runtime-<runtime id>``) reads three topics:
- ``architect.agents.assignments``: ``ExecuteTask`` for a hosted agent is recorded in the ledger (in the
  compacted state topic) and queued on the agent's slots; repeats of an executed (task, attempt) are skipped.
- ``architect.auctions.events``: ``TaskAnnounced`` gets a ``BidPlaced`` from each able, willing agent.
- ``architect.blackboard.events``: ``FindingPosted`` is remembered per goal and given to later tasks of the goal.

Reports about the work (``TaskStarted``, ``TaskSucceeded``, ``TaskFailed``) go to ``architect.agents.reports``,
signed with the agent's credential (``shared.agent_identity``); the assigner checks them and publishes the ones
it accepts to ``architect.tasks.events``.

An assignment runs in a worker thread only once its ``running`` entry is durable, so a restart never runs it
twice: queued ones resume, interrupted ones are reported as crashed. Worker threads only hand completions
back through a queue; the loop thread settles them (budget, findings, outcome event, ledger), enforces
timeouts with a watchdog, sends heartbeats, publishes the shared counters and prunes the ledger, in its ``tick``.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from typing import Any

from opentelemetry import context as otel_context

from services.agent_runtime.backends.contract import Backend, TaskRequest
from services.agent_runtime.backends.from_config import build_backend
from services.agent_runtime.bidding import bids_for
from services.agent_runtime.blackboard import Blackboard
from services.agent_runtime.drift_control import consolidate, reset
from services.agent_runtime.execution import run_task
from services.agent_runtime.file_leases import LEASE_GRACE_S, LeaseWait, LocalClaims, lease_seconds
from services.agent_runtime.fleet_config import FleetConfig
from services.agent_runtime.fleet_replica import FleetReplica
from services.agent_runtime.hosted_agent import HostedAgent
from services.agent_runtime.ledger import KEY_PREFIX, AssignmentKey, ExecutionLedger, LedgerEntry
from services.agent_runtime.periodic import Periodic
from services.agent_runtime.poll_pacing import poll_timeout
from services.agent_runtime.runtime_metrics import (
    AGENT_IN_FLIGHT,
    AGENT_LEASE_WAITS,
    AGENT_TASKS,
    AGENT_TOKENS_USED,
    ASSIGNMENTS_SKIPPED,
    BIDS_PLACED,
)
from services.agent_runtime.settlement import Completion, refusal, settle
from services.agent_runtime.token_budget import TokenBudget
from services.agent_runtime.worker_threads import WorkerThreads
from shared.agent_identity import SIGNATURE_HEADER, parse_tokens, sign, tokens_for
from shared.agent_identity import producer_name as producer_name
from shared.bus.consumer import ConsumerLoop, Delivery
from shared.bus.producer import EventProducer
from shared.bus.state_store import CompactedState
from shared.bus.topics import (
    AGENT_RUNTIME_STATE,
    AGENTS_ASSIGNMENTS,
    AGENTS_REPORTS,
    AUCTIONS_EVENTS,
    BLACKBOARD_EVENTS,
    DRIFT_EVENTS,
)
from shared.events.catalogue.agents import AgentStopped
from shared.events.catalogue.drift import AgentResetRequested, ConsolidationRequested
from shared.events.catalogue.tasks import TaskFailed, TaskStarted
from shared.events.catalogue.work import ExecuteTask, FindingPosted, TaskAnnounced
from shared.events.codec import DecodeError, caused_by, decode, encode, new_event
from shared.events.envelope import Envelope, Payload
from shared.events.task_files import BadFilesInput, declared_files
from shared.settings import Settings

log = logging.getLogger(__name__)

#: Backends that enforce the timeout themselves report first; the watchdog catches the ones that cannot.
WATCHDOG_GRACE_S = 1.0
PRUNE_INTERVAL_S = 3600.0
#: The shared counters (completed, in flight) changed since are published at most this often. Each record holds
#: a counter's whole state (up to 1,024 remembered keys per half, ~25 KB), so publishing per poll cost tens of KB
#: per task at full speed; once a second it is ~40 records a second for a fleet of 20, whatever the rate.
COUNTERS_PUBLISH_EVERY_S = 1.0
USAGE_PREFIX = "usage/"
#: What a runtime reads: its agents' assignments, auctions to bid in, peers' findings, drift containment.
TOPICS = (AGENTS_ASSIGNMENTS, AUCTIONS_EVENTS, BLACKBOARD_EVENTS, DRIFT_EVENTS)


def group_for(runtime_id: str) -> str:
    """The consumer group of one runtime instance."""
    return f"architect-agent-runtime-{runtime_id}"


@dataclass(frozen=True)
class RunningTask:
    """An assignment whose backend may be running: when it began and when the watchdog gives up on it."""

    started: float
    deadline: float
    timeout_s: float


class AgentRuntime:
    """The agent runtime service (``run`` until ``stop``)."""

    def __init__(
        self,
        settings: Settings,
        fleet: FleetConfig,
        *,
        backends: Mapping[str, Backend] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        runtime = fleet.runtime
        self.runtime_id = runtime.id
        self.group_id = group_for(runtime.id)
        self.producer = EventProducer(settings, client_id=self.group_id)
        self.state = CompactedState(settings, AGENT_RUNTIME_STATE, self.producer)
        chosen = backends or {}
        self.agents = {
            config.id: HostedAgent(config, chosen.get(config.id) or build_backend(config)) for config in fleet.hosted()
        }
        secret = settings.agent_identity_secret.get_secret_value() if settings.agent_identity_secret else None
        configured = parse_tokens(settings.agent_tokens.get_secret_value()) if settings.agent_tokens else {}
        self._tokens = tokens_for(list(self.agents), secret, configured)
        self.ledger = ExecutionLedger(runtime.executed_retention_s)
        self.blackboard = Blackboard(runtime.findings_per_goal)
        self.loop = ConsumerLoop(
            settings,
            group_id=self.group_id,
            topics=list(TOPICS),
            producer=self.producer,
            handler=self._handle,
            before_commit=self._launch_ready,
            tick=self._tick,
            poll_timeout=self._poll_timeout,
            wake_on_record=True,
        )
        self._drain_timeout_s = runtime.drain_timeout_s
        self._clock = clock
        self._wall_clock = wall_clock
        self._heartbeats = Periodic(runtime.heartbeat_s)
        self._pruning = Periodic(PRUNE_INTERVAL_S)
        self._counter_publishing = Periodic(COUNTERS_PUBLISH_EVERY_S)
        # Accepted and not yet settled; a key missing here means its outcome is published already.
        self._commands: dict[AssignmentKey, Envelope[Any]] = {}
        self._running: dict[AssignmentKey, RunningTask] = {}
        self._traces: dict[AssignmentKey, otel_context.Context] = {}
        self._completions: queue.SimpleQueue[Completion] = queue.SimpleQueue()
        self._workers = WorkerThreads(f"runtime-{self.runtime_id}-task")
        self._last_launch: float | None = None
        # Whether something may have become launchable (accepted, slot freed, restored) since the last look:
        # polls come every few ms while work runs, and most find nothing to start.
        self._launch_due = True
        # Shared state: sessions, completed-task counters, file leases (lock checks before work starts).
        self.fleet_state = FleetReplica(settings, runtime.id, self.producer)
        self._lease_waits: dict[AssignmentKey, LeaseWait] = {}
        self._claims = LocalClaims()
        self._lease_wait_s = runtime.lease_wait_s
        # Lease waits per agent as its last heartbeat reported them.
        self._announced_waits: dict[str, int] = {}

    # -- lifecycle -------------------------------------------------------------------------------------------
    def run(self) -> None:
        """Restore state, register the agents, consume until ``stop``, then let running tasks finish (bounded)."""
        try:
            self._recover()
            self._register()
            self.fleet_state.start(self.agents)
            self.loop.run()
        finally:
            self._drain()
            for agent in self.agents.values():
                agent.backend.close()
            self.fleet_state.close()
            self.producer.close()

    def stop(self) -> None:
        """Stop consuming; ``run`` then waits up to ``drain_timeout_s`` for running tasks and flushes."""
        self.loop.stop()

    def _recover(self) -> None:
        self.state.load()
        for agent in self.agents.values():
            agent.budget = TokenBudget.restored(agent.config.token_budget, self.state.get(USAGE_PREFIX + agent.id))
            AGENT_TOKENS_USED.labels(agent.id).set(agent.budget.used)
        entries = [LedgerEntry.from_dict(value) for _, value in self.state.items(KEY_PREFIX)]
        self.ledger = ExecutionLedger(
            self.ledger.retention_s, [entry for entry in entries if entry.key.agent_id in self.agents]
        )
        queued, running = self.ledger.with_status("queued"), self.ledger.with_status("running")
        for entry in queued:
            if self._restore_command(entry):
                self.agents[entry.key.agent_id].slots.enqueue(entry.key)
        for entry in running:
            if self._restore_command(entry):
                self._running[entry.key] = RunningTask(self._clock(), self._clock(), 0.0)
                with suppress(BadFilesInput):  # its leases (if granted before the crash) are given back
                    self._claims.claim(entry.key, declared_files(self._commands[entry.key].payload.inputs))
                error = "interrupted: the agent runtime stopped while the task ran"
                self._settle(Completion.failed(entry.key, "crash", error, 0))
        # The interrupted attempts' ends stay noted until the first publish after ``fleet_state.start`` has merged
        # this replica's earlier state back: applied now, to an empty view, they would find no start to undo.
        self.state.flush()
        self.producer.flush()
        log.info(
            "runtime %s: %d agent(s), %d executed assignment(s) known, %d resumed, %d reported interrupted",
            self.runtime_id,
            len(self.agents),
            len(self.ledger),
            len(queued),
            len(running),
        )

    def _restore_command(self, entry: LedgerEntry) -> bool:
        try:
            self._commands[entry.key] = decode((entry.command or "").encode())
        except DecodeError as exc:
            log.error("runtime %s: cannot restore %s (%s); dropping it", self.runtime_id, entry.key, exc)
            self._persist(self.ledger.finish(entry.key, "unreadable"))
            return False
        return True

    def _register(self) -> None:
        for agent in self.agents.values():
            self.producer.publish(
                new_event(
                    agent.registration(), producer=producer_name(agent.id), stream_id=agent.id, correlation_id=agent.id
                )
            )
        self.producer.flush()

    def _drain(self) -> None:
        deadline = self._clock() + self._drain_timeout_s
        while self._running and self._clock() < deadline:
            with suppress(queue.Empty):
                self._settle(self._completions.get(timeout=0.1))
            self._expire_overdue(self._clock())
        for key, running in list(self._running.items()):
            error = "the agent runtime stopped before the task finished"
            self._settle(Completion.failed(key, "crash", error, int((self._clock() - running.started) * 1000)))
        for key in list(self._lease_waits):
            self._give_back(key)  # still queued in the ledger: it waits for its leases again after a restart
        self._announce_stopped()
        self.state.flush()
        self.fleet_state.publish()
        self.producer.flush()

    # -- consuming -------------------------------------------------------------------------------------------
    def _handle(self, delivery: Delivery) -> None:
        envelope = delivery.envelope
        payload = envelope.payload
        if isinstance(payload, ExecuteTask):
            self._accept(envelope, payload)
        elif isinstance(payload, TaskAnnounced):
            self._bid(envelope, payload)
        elif isinstance(payload, FindingPosted):
            self.blackboard.post(str(envelope.event_id), payload)
        elif isinstance(payload, AgentResetRequested | ConsolidationRequested):
            self._contain_drift(envelope, payload)

    def _contain_drift(self, envelope: Envelope[Any], request: AgentResetRequested | ConsolidationRequested) -> None:
        """Restart a drifting agent's session, or install its memory consolidation, and report it."""
        agent = self.agents.get(request.agent_id)
        if agent is None:
            return
        done: Payload
        if isinstance(request, AgentResetRequested):
            done = reset(agent.backend, request)
            log.info("agent %s: session reset at stability %.2f", agent.id, request.stability)
        else:
            done = consolidate(agent.backend, request)
            log.info("agent %s: memory consolidated through interaction %d", agent.id, request.through)
        self.producer.publish(caused_by(envelope, done, producer=producer_name(agent.id), kind="drift-contained"))
        self.producer.flush()

    def _accept(self, envelope: Envelope[Any], command: ExecuteTask) -> None:
        agent = self.agents.get(command.agent_id)
        if agent is None:
            return
        key = AssignmentKey(command.agent_id, command.task_id, command.attempt)
        admission = self.ledger.admit(
            key, encode(envelope).decode(), envelope.occurred_at.timestamp(), self._wall_clock()
        )
        if admission != "accepted":
            log.info("agent %s: %s assignment %s/%d skipped", agent.id, admission, key.task_id, key.attempt)
            ASSIGNMENTS_SKIPPED.labels(agent.id, admission).inc()
            return
        entry = self.ledger.get(key)
        assert entry is not None
        self._persist(entry)
        self._commands[key] = envelope
        self._traces[key] = otel_context.get_current()
        agent.slots.enqueue(key)
        self._launch_due = True

    def _bid(self, envelope: Envelope[Any], announcement: TaskAnnounced) -> None:
        bidders = [agent.bidder() for agent in self.agents.values()]
        for bid in bids_for(announcement, envelope.occurred_at.timestamp(), self._wall_clock(), bidders):
            self.producer.publish(
                caused_by(envelope, bid, producer=producer_name(bid.agent_id), kind=f"bid:{bid.agent_id}")
            )
            BIDS_PLACED.labels(bid.agent_id).inc()

    # -- running ---------------------------------------------------------------------------------------------
    def _launch_ready(self) -> None:
        """Start what fits in free slots, once its ``running`` entry (and every accepted one) is durable."""
        if not (self._launch_due or self._lease_waits):
            self.state.flush()
            return
        self._launch_due = False
        launches: list[tuple[Backend, AssignmentKey, TaskRequest]] = []
        now = self._clock()
        for agent in self.agents.values():
            stepped: set[AssignmentKey] = set()
            for key in agent.slots.queued() if agent.slots.has_room else ():
                if not agent.slots.has_room:
                    break
                stepped.add(key)
                envelope = self._commands[key]
                command: ExecuteTask = envelope.payload
                refused = refusal(command, agent.config.capabilities, agent.budget)
                if refused is not None:
                    # Never started: reported failed at once, without a TaskStarted.
                    self._settle(refused)
                    continue
                timeout_s = agent.timeout_s(command)
                if not self._files_ready(key, command, timeout_s):
                    continue  # waits for its leases without a slot: the ones behind it may start
                agent.slots.start(key)
                self._persist(self.ledger.start(key))
                self.fleet_state.attempt_started(key.agent_id, key.task_id, key.attempt)
                with self._traced(key):
                    self._report(self._derived(envelope, TaskStarted(**_ids(command)), "started"))
                self._running[key] = RunningTask(now, now + timeout_s + WATCHDOG_GRACE_S, timeout_s)
                launches.append(
                    (agent.backend, key, agent.request_for(command, self.blackboard.recent(command.goal_id)))
                )
            self._check_lease_waits(agent, stepped)
            AGENT_IN_FLIGHT.labels(agent.id).set(agent.slots.in_flight)
        self.state.flush()
        if launches:
            # The ``running`` entries must be durable before a backend may begin (a restart never re-runs).
            self.producer.flush()
        if launches:
            self._last_launch = self._clock()
        for backend, key, request in launches:
            self._workers.submit(partial(self._execute, backend, request, key))

    def _files_ready(self, key: AssignmentKey, command: ExecuteTask, timeout_s: float) -> bool:
        """Lock checks before work starts (see :mod:`.file_leases`), with a slot free for ``key``: True once every
        declared file's lease is this agent's; False while it waits (holding no slot), or when it was settled (bad
        ``files`` input, or given back as ``lock_conflict`` after waiting past the limit)."""
        wait = self._lease_waits.get(key)
        lease_s = min(lease_seconds(timeout_s), 24 * 3600.0)
        if wait is None:
            try:
                paths = declared_files(command.inputs)
            except BadFilesInput as exc:
                self._settle(Completion.failed(key, "invalid", str(exc), 0))
                return False
            if not paths:
                return True
            max_wait_s = min(self._lease_wait_s, timeout_s)
            needed_s = lease_s - (LEASE_GRACE_S - WATCHDOG_GRACE_S)  # the run and the watchdog's grace
            wait = LeaseWait(key.agent_id, key.task_id, key.attempt, paths, self._wall_clock(), max_wait_s, needed_s)
            log.info("agent %s: task %s/%d waits for the leases on %s", key.agent_id, key.task_id, key.attempt, paths)
        now = self._wall_clock()
        local = self._local_holders(key, wait.paths)
        if not local:
            self._claims.claim(key, wait.paths)
        wait, status, asks = wait.step(self.fleet_state.leases(), now, local)
        for path, request in asks:
            self.fleet_state.acquire(path, key.agent_id, request, lease_s, key.task_id, command.goal_id)
        if asks:
            self.producer.flush()
        self._lease_waits[key] = wait
        if status == "granted":
            del self._lease_waits[key]
            return True
        if status == "gave_up":
            self._give_up(key, wait, now)
        return False

    def _check_lease_waits(self, agent: HostedAgent, stepped: set[AssignmentKey]) -> None:
        """The agent's lease waits not stepped in this pass (no slot was free for them): give back the ones past
        the limit with a file still held by another; then tell the assigner how many wait, if that changed."""
        if not self._lease_waits and not self._announced_waits.get(agent.id):
            return  # the usual case, on every poll: nothing waits and nothing was announced
        now = self._wall_clock()
        for key, wait in list(self._lease_waits.items()):
            if key.agent_id != agent.id or key in stepped:
                continue
            wait, give_up = wait.check(self.fleet_state.leases(), now, self._local_holders(key, wait.paths))
            self._lease_waits[key] = wait
            if give_up:
                self._give_up(key, wait, now)
        waits = sum(1 for key in self._lease_waits if key.agent_id == agent.id)
        AGENT_LEASE_WAITS.labels(agent.id).set(waits)
        if waits != self._announced_waits.get(agent.id, 0):
            # At once, not at the next heartbeat: the assigner counts waiting tasks out of the agent's load.
            self._announced_waits[agent.id] = waits
            self._heartbeat(agent)

    def _give_up(self, key: AssignmentKey, wait: LeaseWait, now: float) -> None:
        """Give the task back (``lock_conflict``, naming the files and their holders) for the assigner to retry."""
        reason = wait.reason(now)
        log.info("agent %s: task %s/%d given back: %s", key.agent_id, key.task_id, key.attempt, reason)
        self._settle(Completion.failed(key, "lock_conflict", reason, int((now - wait.since_s) * 1000)))

    def _local_holders(self, key: AssignmentKey, paths: tuple[str, ...]) -> dict[str, str]:
        """The paths another task of this runtime claims, with that task's id."""
        return {path: owner.task_id for path, owner in self._claims.others(key, paths).items()}

    def _announce_stopped(self) -> None:
        """Tell the assigner at once that these agents take no more work (not only when their heartbeats time
        out): assignments sent meanwhile would wait for this runtime's return or for their timeout."""
        for agent in self.agents.values():
            stopped = AgentStopped(agent_id=agent.id, reason=f"runtime {self.runtime_id} stopped")
            self.producer.publish(
                new_event(stopped, producer=producer_name(agent.id), stream_id=agent.id, correlation_id=agent.id)
            )

    def _heartbeat(self, agent: HostedAgent) -> None:
        waits = self._announced_waits.get(agent.id, 0)
        beat = agent.heartbeat(lease_waits=waits)
        self.producer.publish(
            new_event(beat, producer=producer_name(agent.id), stream_id=agent.id, correlation_id=agent.id)
        )

    def _give_back(self, key: AssignmentKey) -> None:
        """Release the leases ``key`` claimed (a release the lock manager finds not held is ignored)."""
        self._lease_waits.pop(key, None)
        envelope = self._commands.get(key)
        goal_id = envelope.payload.goal_id if envelope is not None else key.task_id
        request = f"{key.task_id}#{key.attempt}:release"[:200]
        released = self._claims.release(key)
        for path in released:
            self.fleet_state.release(path, key.agent_id, request, goal_id)
        if released:
            self.producer.flush()

    def _poll_timeout(self) -> float:
        """How long the next poll may wait for records (see :mod:`.poll_pacing`)."""
        since = self._clock() - self._last_launch if self._running and self._last_launch is not None else None
        return poll_timeout(since, results_waiting=not self._completions.empty())

    def _execute(self, backend: Backend, request: TaskRequest, key: AssignmentKey) -> None:
        self._completions.put(run_task(backend, request, key, self._clock))

    def _tick(self) -> None:
        now = self._clock()
        settled = 0
        while True:
            try:
                settled += self._settle(self._completions.get_nowait())
            except queue.Empty:
                break
        settled += self._expire_overdue(now)
        self._launch_ready()
        if self._heartbeats.due(now):
            for agent in self.agents.values():
                self._heartbeat(agent)
        if self._pruning.due(now):
            for key in self.ledger.prune(self._wall_clock()):
                self.state.delete(key.state_key())
            self.state.flush()
        if self._counter_publishing.due(now):
            self.fleet_state.publish()
        if settled:
            self.state.flush()
            self.producer.flush()

    def _expire_overdue(self, now: float) -> int:
        overdue = [(key, running) for key, running in self._running.items() if now >= running.deadline]
        for key, running in overdue:
            error = f"no result within the {running.timeout_s}s timeout"
            self._settle(Completion.failed(key, "timeout", error, int((now - running.started) * 1000)))
        return len(overdue)

    def _settle(self, completion: Completion) -> int:
        """Publish the outcome of a completion; a late one (after the watchdog or a shutdown) is dropped."""
        key = completion.key
        if key in self._commands:
            self._give_back(key)
        envelope = self._commands.pop(key, None)
        if envelope is None:
            log.info("agent %s: late result for %s/%d dropped", key.agent_id, key.task_id, key.attempt)
            return 0
        self._running.pop(key, None)
        agent = self.agents[key.agent_id]
        agent.slots.release(key)
        self._launch_due = True
        settlement = settle(envelope.payload, completion, agent.budget)
        agent.budget = settlement.budget
        outcome = "succeeded" if settlement.succeeded else "failed"
        with self._traced(key):
            for index, finding in enumerate(settlement.findings):
                self.producer.publish(self._derived(envelope, finding, f"finding:{index}"))
            self._report(self._derived(envelope, settlement.outcome, outcome))
        self._traces.pop(key, None)
        self._persist(self.ledger.finish(key, outcome))
        self.state.put(USAGE_PREFIX + agent.id, agent.budget.to_dict())
        self.fleet_state.attempt_ended(agent.id, key.task_id, key.attempt)
        if settlement.succeeded:
            self.fleet_state.task_completed(agent.id, envelope.payload.capability, key.task_id)
        if completion.result is not None:
            agent.latency = agent.latency.observe(completion.duration_ms / 1000)
        error_class = settlement.outcome.error_class if isinstance(settlement.outcome, TaskFailed) else ""
        AGENT_TASKS.labels(agent.id, outcome, error_class).inc()
        AGENT_TOKENS_USED.labels(agent.id).set(agent.budget.used)
        AGENT_IN_FLIGHT.labels(agent.id).set(agent.slots.in_flight)
        return 1

    # -- plumbing --------------------------------------------------------------------------------------------
    def _report(self, event: Envelope[Any]) -> None:
        """Send a report about an assignment to the assigner, signed with the agent's token when it has one."""
        value = encode(event)
        token = self._tokens.get(event.payload.agent_id)
        headers = [(SIGNATURE_HEADER, sign(token, value))] if token else []
        self.producer.publish(event, topic=AGENTS_REPORTS, value=value, headers=headers)

    def _persist(self, entry: LedgerEntry) -> None:
        self.state.put(entry.key.state_key(), entry.to_dict())

    @staticmethod
    def _derived(cause: Envelope[Any], payload: Payload, kind: str) -> Envelope[Any]:
        """An event of the assignment's goal with an id derived from (assignment, kind), so replays repeat it."""
        command: ExecuteTask = cause.payload
        return new_event(
            payload,
            producer=producer_name(command.agent_id),
            stream_id=command.goal_id,
            correlation_id=command.goal_id,
            causation_id=cause.event_id,
            event_id=cause.derive_id(kind),
        )

    @contextmanager
    def _traced(self, key: AssignmentKey) -> Iterator[None]:
        """Publish inside the trace of the assignment's delivery, so the goal's trace shows the agent's work."""
        context = self._traces.get(key)
        if context is None:
            yield
            return
        token = otel_context.attach(context)
        try:
            yield
        finally:
            otel_context.detach(token)


def _ids(command: ExecuteTask) -> dict[str, Any]:
    return {
        "task_id": command.task_id,
        "goal_id": command.goal_id,
        "agent_id": command.agent_id,
        "attempt": command.attempt,
    }
