"""The topic catalogue: every topic Architect uses, with explicit partitions, replication and cleanup.

Names are written out here, never derived from class names (STYLE.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.bus.changelog import COMPACTING_CHANGELOG

GOALS_COMMANDS = "architect.goals.commands"
GOALS_EVENTS = "architect.goals.events"
TASKS_EVENTS = "architect.tasks.events"
AGENTS_COMMANDS = "architect.agents.commands"
AGENTS_EVENTS = "architect.agents.events"
AGENTS_ASSIGNMENTS = "architect.agents.assignments"
#: Agents' reports about their work, checked by the assigner before they become facts on TASKS_EVENTS.
AGENTS_REPORTS = "architect.agents.reports"
AUCTIONS_EVENTS = "architect.auctions.events"
BLACKBOARD_EVENTS = "architect.blackboard.events"
DRIFT_EVENTS = "architect.drift.events"
DECISIONS_COMMANDS = "architect.decisions.commands"
DECISIONS_EVENTS = "architect.decisions.events"
SAGAS_COMMANDS = "architect.sagas.commands"
SAGAS_EVENTS = "architect.sagas.events"
LOCKS_COMMANDS = "architect.locks.commands"
STATE_CRDT = "architect.state.crdt"
ASSIGNER_STATE = "architect.assigner.state"
SCHEDULER_STATE = "architect.scheduler.state"
AGENT_RUNTIME_STATE = "architect.agent-runtime.state"
SCHEDULER_DELAYED = "architect.scheduler.delayed"
DEAD_LETTERS = "architect.deadletter"

WEEK_MS = 7 * 24 * 3600 * 1000
DEAD_LETTER_MAX_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class TopicSpec:
    """How one topic is created. ``partitions``/``replication`` of None take the cluster-wide setting."""

    name: str
    keyed_by: str
    cleanup_policy: str = "delete"
    retention_ms: int = -1
    partitions: int | None = None
    replication: int | None = None
    extra_config: dict[str, str] = field(default_factory=dict)

    def config(self, replication: int) -> dict[str, str]:
        """Broker-side topic config; min ISR follows replication so RF 3 tolerates one broker loss."""
        config = {
            "cleanup.policy": self.cleanup_policy,
            "retention.ms": str(self.retention_ms),
            "min.insync.replicas": str(2 if replication >= 3 else 1),
        }
        config.update(self.extra_config)
        return config


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(GOALS_COMMANDS, keyed_by="goal_id"),
    TopicSpec(GOALS_EVENTS, keyed_by="goal_id"),
    TopicSpec(TASKS_EVENTS, keyed_by="goal_id"),
    TopicSpec(AGENTS_COMMANDS, keyed_by="agent_id"),
    TopicSpec(AGENTS_EVENTS, keyed_by="agent_id"),
    TopicSpec(AGENTS_ASSIGNMENTS, keyed_by="agent_id"),
    TopicSpec(AGENTS_REPORTS, keyed_by="goal_id"),
    TopicSpec(AUCTIONS_EVENTS, keyed_by="goal_id"),
    TopicSpec(BLACKBOARD_EVENTS, keyed_by="goal_id"),
    TopicSpec(DRIFT_EVENTS, keyed_by="agent_id"),
    TopicSpec(DECISIONS_COMMANDS, keyed_by="decision_id"),
    TopicSpec(DECISIONS_EVENTS, keyed_by="decision_id"),
    TopicSpec(SAGAS_COMMANDS, keyed_by="saga_id"),
    TopicSpec(SAGAS_EVENTS, keyed_by="saga_id"),
    TopicSpec(LOCKS_COMMANDS, keyed_by="file_path"),
    TopicSpec(
        STATE_CRDT,
        keyed_by="replica_id/object",
        cleanup_policy="compact",
        extra_config={"min.cleanable.dirty.ratio": "0.1", "segment.ms": "3600000"},
    ),
    TopicSpec(
        ASSIGNER_STATE, keyed_by="state key", cleanup_policy="compact", partitions=1, extra_config=COMPACTING_CHANGELOG
    ),
    TopicSpec(
        SCHEDULER_STATE, keyed_by="state key", cleanup_policy="compact", partitions=1, extra_config=COMPACTING_CHANGELOG
    ),
    TopicSpec(
        AGENT_RUNTIME_STATE,
        keyed_by="state key",
        cleanup_policy="compact",
        partitions=1,
        extra_config=COMPACTING_CHANGELOG,
    ),
    TopicSpec(SCHEDULER_DELAYED, keyed_by="stream_id", retention_ms=WEEK_MS),
    TopicSpec(
        DEAD_LETTERS,
        keyed_by="source key",
        partitions=1,
        retention_ms=4 * WEEK_MS,
        # Holds originals that were rejected for being too large, plus headers.
        extra_config={"max.message.bytes": str(DEAD_LETTER_MAX_BYTES)},
    ),
)

#: Topics whose records are facts in envelopes; the projector reads all of them. Agents' reports are not facts
#: until the assigner has checked them (it publishes the accepted ones to TASKS_EVENTS).
EVENT_TOPICS: tuple[str, ...] = tuple(
    t.name
    for t in TOPICS
    if t.name
    not in {
        DEAD_LETTERS,
        STATE_CRDT,
        SCHEDULER_DELAYED,
        ASSIGNER_STATE,
        SCHEDULER_STATE,
        AGENT_RUNTIME_STATE,
        AGENTS_REPORTS,
    }
)


@dataclass(frozen=True)
class TableSpec:
    """A faust table, whose changelog the topic bootstrap creates with the catalogue: faust finds it there at
    start-up instead of creating it itself, which on a fresh broker could leave the new topic out of its
    consumer's metadata until the next refresh (minutes of ``PartitionsMismatch``, bench/results/recovery.md).

    The changelog is named as faust names it, is compacted and has the partition count of ``sources`` (the
    topics the table's agent reads: a table must be co-partitioned with them). ``extra_config``: broker-side
    settings for the changelog, the same the service gives faust as the table's ``extra_topic_configs``."""

    app_id: str
    table: str
    sources: tuple[str, ...]
    keyed_by: str
    extra_config: dict[str, str] = field(default_factory=dict)

    @property
    def changelog(self) -> str:
        return changelog_topic(self.app_id, self.table)

    def changelog_spec(self, partitions: int) -> TopicSpec:
        """The changelog's topic spec, for sources of ``partitions`` partitions."""
        return TopicSpec(
            self.changelog,
            keyed_by=self.keyed_by,
            cleanup_policy="compact",
            partitions=partitions,
            extra_config=dict(self.extra_config),
        )


def changelog_topic(app_id: str, table: str) -> str:
    """The name faust gives a table's changelog topic."""
    return f"{app_id}-{table}-changelog"


#: Every faust table of the services (their ``APP_ID``, table name and sources; tests/unit/bus/test_tables.py
#: checks them against the apps the services build).
TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "architect-orchestrator",
        "goals",
        (GOALS_COMMANDS, TASKS_EVENTS),
        keyed_by="goal_id",
        extra_config=COMPACTING_CHANGELOG,
    ),
    # A global table, written from the agents' events: its changelog has their partitions, as faust checks.
    TableSpec(
        "architect-orchestrator", "fleet", (AGENTS_EVENTS,), keyed_by="agent_id", extra_config=COMPACTING_CHANGELOG
    ),
    TableSpec(
        "architect-saga-coordinator",
        "sagas",
        (SAGAS_COMMANDS,),
        keyed_by="saga_id",
        extra_config=COMPACTING_CHANGELOG,
    ),
    TableSpec(
        "architect-consensus",
        "decisions",
        (DECISIONS_COMMANDS,),
        keyed_by="decision_id",
        extra_config=COMPACTING_CHANGELOG,
    ),
    TableSpec(
        "architect-drift-monitor",
        "drift_agents",
        (DRIFT_EVENTS, AGENTS_EVENTS),
        keyed_by="agent_id",
        extra_config=COMPACTING_CHANGELOG,
    ),
)


def topic_spec(name: str) -> TopicSpec:
    """The spec of a catalogued topic; KeyError names the unknown topic."""
    for spec in TOPICS:
        if spec.name == name:
            return spec
    raise KeyError(f"topic {name!r} is not in the catalogue")
