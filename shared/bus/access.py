"""Who reads and writes what on Kafka: each deployed service's topics, consumer groups and transactional ids.

The basis of the Kafka ACLs (``architect kafka acls``): one principal per service, named like the compose and
Helm service (``<prefix><service>``), granted only what the service uses. tests/unit/bus/test_access.py checks the
declarations against the code (topics each service subscribes to and publishes on, its groups, its transactional
ids, the catalogue's owners), so a service that starts using a topic fails the tests until it is declared here.
Pure data and functions.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from shared.bus.topics import (
    AGENT_RUNTIME_STATE,
    AGENTS_ASSIGNMENTS,
    AGENTS_COMMANDS,
    AGENTS_EVENTS,
    AGENTS_REPORTS,
    ASSIGNER_STATE,
    AUCTIONS_EVENTS,
    BLACKBOARD_EVENTS,
    DEAD_LETTERS,
    DECISIONS_COMMANDS,
    DECISIONS_EVENTS,
    DRIFT_EVENTS,
    EVENT_TOPICS,
    GOALS_COMMANDS,
    GOALS_EVENTS,
    LOCKS_COMMANDS,
    SAGAS_COMMANDS,
    SAGAS_EVENTS,
    SCHEDULER_DELAYED,
    SCHEDULER_STATE,
    STATE_CRDT,
    TABLES,
    TASKS_EVENTS,
)

#: Consumers that read a topic to its end without committing (state stores, the gateway's log reads) take a
#: throw-away group ``architect-reader-<uuid>`` (shared/bus/reader.py); CRDT replicas ``architect-crdt-<uuid>``.
SCAN_GROUP_PREFIX = "architect-reader-"
CRDT_GROUP_PREFIX = "architect-crdt-"
#: Every catalogued topic starts with it: the topic job may create, grow and configure those.
TOPIC_PREFIX = "architect."


@dataclass(frozen=True)
class ServiceAccess:
    """What one service's Kafka clients do. ``internal_topic_prefixes``: topics the client creates and uses
    itself (a faust app's changelogs and assignor topic, ``<app id>-...``). ``creates_topics``: other topics
    it creates, by name (the topic job: the faust tables' changelogs, before their apps start)."""

    service: str
    reads: frozenset[str] = frozenset()
    writes: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    group_prefixes: frozenset[str] = frozenset()
    transactional_id_prefixes: frozenset[str] = frozenset()
    internal_topic_prefixes: frozenset[str] = frozenset()
    creates_topic_prefixes: frozenset[str] = frozenset()
    creates_topics: frozenset[str] = frozenset()


def _faust(service: str, app_id: str, *, reads: set[str], writes: set[str], crdt: bool = False) -> ServiceAccess:
    return ServiceAccess(
        service,
        reads=frozenset(reads | ({STATE_CRDT} if crdt else set())),
        writes=frozenset(writes | {DEAD_LETTERS} | ({STATE_CRDT} if crdt else set())),
        groups=frozenset({app_id}),
        group_prefixes=frozenset({CRDT_GROUP_PREFIX} if crdt else set()),
        internal_topic_prefixes=frozenset({f"{app_id}-"}),
    )


_SCHEDULER = "scheduler"
_ASSIGNER = ServiceAccess(
    "assigner",
    reads=frozenset(
        {
            AGENTS_COMMANDS,
            AGENTS_EVENTS,
            AGENTS_REPORTS,
            TASKS_EVENTS,
            AUCTIONS_EVENTS,
            DRIFT_EVENTS,
            ASSIGNER_STATE,
            # The lock manager's leases (``file-locks``), read by a CRDT replica: a task given back for a lock
            # conflict is retried as soon as its files are free (``services/assigner/lock_wake.py``).
            STATE_CRDT,
        }
    ),
    writes=frozenset(
        {
            AGENTS_ASSIGNMENTS,
            AGENTS_EVENTS,
            AUCTIONS_EVENTS,
            TASKS_EVENTS,
            # Task outcomes copied to the task's creator (``shared/bus/replies.py``).
            SAGAS_COMMANDS,
            DECISIONS_COMMANDS,
            ASSIGNER_STATE,
            SCHEDULER_DELAYED,
            DEAD_LETTERS,
        }
    ),
    groups=frozenset({"architect-assigner"}),
    group_prefixes=frozenset({SCAN_GROUP_PREFIX, CRDT_GROUP_PREFIX}),
    # ``architect-assigner-<instance id>``: one transactional producer per instance.
    transactional_id_prefixes=frozenset({"architect-assigner-"}),
)
_ORCHESTRATOR = _faust(
    "orchestrator",
    "architect-orchestrator",
    reads={GOALS_COMMANDS, TASKS_EVENTS, AGENTS_EVENTS, SAGAS_EVENTS},
    writes={GOALS_EVENTS, TASKS_EVENTS, GOALS_COMMANDS, DECISIONS_COMMANDS, SAGAS_COMMANDS, SCHEDULER_DELAYED},
)
_SAGA_COORDINATOR = _faust(
    "saga-coordinator",
    "architect-saga-coordinator",
    reads={SAGAS_COMMANDS},
    writes={SAGAS_EVENTS, SAGAS_COMMANDS, GOALS_EVENTS, TASKS_EVENTS, SCHEDULER_DELAYED},
)
_CONSENSUS = _faust(
    "consensus",
    "architect-consensus",
    reads={DECISIONS_COMMANDS, SAGAS_EVENTS},
    writes={DECISIONS_EVENTS, DECISIONS_COMMANDS, GOALS_COMMANDS, SAGAS_COMMANDS, TASKS_EVENTS, SCHEDULER_DELAYED},
    crdt=True,
)
_DRIFT_MONITOR = _faust(
    "drift-monitor",
    "architect-drift-monitor",
    reads={TASKS_EVENTS, DRIFT_EVENTS, AGENTS_EVENTS},
    writes={DRIFT_EVENTS},
)
_AGENT_RUNTIME = ServiceAccess(
    "agent-runtime",
    reads=frozenset(
        {AGENTS_ASSIGNMENTS, AUCTIONS_EVENTS, BLACKBOARD_EVENTS, DRIFT_EVENTS, AGENT_RUNTIME_STATE, STATE_CRDT}
    ),
    # Reports go to AGENTS_REPORTS for the assigner to check: never to TASKS_EVENTS, so an agent cannot state a
    # task's outcome as a fact (per-agent identity, shared/agent_identity.py).
    writes=frozenset(
        {
            AGENTS_REPORTS,
            AGENTS_COMMANDS,
            AGENTS_EVENTS,
            AUCTIONS_EVENTS,
            BLACKBOARD_EVENTS,
            DRIFT_EVENTS,
            LOCKS_COMMANDS,
            STATE_CRDT,
            AGENT_RUNTIME_STATE,
            DEAD_LETTERS,
        }
    ),
    # ``architect-agent-runtime-<runtime id of the fleet file>``.
    group_prefixes=frozenset({"architect-agent-runtime-", SCAN_GROUP_PREFIX, CRDT_GROUP_PREFIX}),
)
_LOCKS = ServiceAccess(
    "locks",
    reads=frozenset({LOCKS_COMMANDS, STATE_CRDT}),
    writes=frozenset({STATE_CRDT, DEAD_LETTERS}),
    groups=frozenset({"architect-lock-manager"}),
    group_prefixes=frozenset({SCAN_GROUP_PREFIX}),
    transactional_id_prefixes=frozenset({"architect-lock-manager"}),
)
_PROJECTOR = ServiceAccess(
    "projector",
    reads=frozenset({*EVENT_TOPICS, DEAD_LETTERS, STATE_CRDT}),
    writes=frozenset({DEAD_LETTERS}),
    groups=frozenset({"architect-projector", "architect-projector-dlq", "architect-projector-crdt"}),
    # A rebuild (architect projections rebuild) scans the event topics from their start.
    group_prefixes=frozenset({SCAN_GROUP_PREFIX}),
)
_TOPICS_JOB = ServiceAccess(
    "topics",
    creates_topic_prefixes=frozenset({TOPIC_PREFIX}),
    creates_topics=frozenset(table.changelog for table in TABLES),
)

#: Services that ask the scheduler for delayed delivery (they write SCHEDULER_DELAYED): the scheduler publishes
#: the events they scheduled, so it may write where they may.
_SCHEDULING_CLIENTS = (_ASSIGNER, _ORCHESTRATOR, _SAGA_COORDINATOR, _CONSENSUS)
_SCHEDULER_ACCESS = ServiceAccess(
    _SCHEDULER,
    reads=frozenset({SCHEDULER_DELAYED, SCHEDULER_STATE}),
    writes=frozenset(
        {SCHEDULER_STATE, DEAD_LETTERS}
        | {topic for client in _SCHEDULING_CLIENTS for topic in client.writes if topic in EVENT_TOPICS}
    ),
    groups=frozenset({"architect-scheduler"}),
    group_prefixes=frozenset({SCAN_GROUP_PREFIX}),
)

_CONSUMERS = (
    _ASSIGNER,
    _ORCHESTRATOR,
    _SAGA_COORDINATOR,
    _CONSENSUS,
    _DRIFT_MONITOR,
    _AGENT_RUNTIME,
    _LOCKS,
    _PROJECTOR,
    _SCHEDULER_ACCESS,
)
#: Services' own compacted state: loaded by scans at start (shared/bus/state_store.py), never dead-lettered.
SERVICE_STATE_TOPICS = frozenset({ASSIGNER_STATE, SCHEDULER_STATE, AGENT_RUNTIME_STATE})
#: A re-drive publishes a dead letter's original back to the topic it was read from: any topic a service's consumer
#: group subscribes to.
REDRIVE_TOPICS = (
    frozenset(topic for service in _CONSUMERS for topic in service.reads) - {DEAD_LETTERS} - SERVICE_STATE_TOPICS
)
_GATEWAY = ServiceAccess(
    "gateway",
    # Log reads: a goal's events replayed from the event topics, dead letters listed and re-driven.
    reads=frozenset({*EVENT_TOPICS, DEAD_LETTERS}),
    writes=frozenset({GOALS_COMMANDS, AGENTS_COMMANDS, DECISIONS_COMMANDS, SAGAS_COMMANDS, DEAD_LETTERS})
    | REDRIVE_TOPICS,
    group_prefixes=frozenset({SCAN_GROUP_PREFIX}),
)

#: Every deployed Kafka client, by its compose/Helm service name.
SERVICE_ACCESS: dict[str, ServiceAccess] = {a.service: a for a in (*_CONSUMERS, _GATEWAY, _TOPICS_JOB)}


@dataclass(frozen=True)
class AclGrant:
    """One ``kafka-acls.sh --add``: operations on resources of one type and pattern, for one principal."""

    principal: str
    resource: str  # "topic", "group" or "transactional-id"
    pattern: str  # "literal" or "prefixed"
    names: tuple[str, ...]
    operations: tuple[str, ...]


#: What a faust app does with its own topics: creates them (changelogs, the assignor's), reads and writes them.
_INTERNAL_TOPIC_OPERATIONS = ("Create", "Read", "Write", "Describe", "DescribeConfigs")
#: What the topic job does with the topics it creates: creates them, grows them, shows them, and brings an existing
#: topic's configs up to date (every re-run, e.g. each Helm upgrade's hook, needs AlterConfigs for that).
_CREATED_TOPIC_OPERATIONS = ("Create", "Describe", "DescribeConfigs", "Alter", "AlterConfigs")


class PrincipalPrefixError(ValueError):
    """The principal prefix is not ``<type>:<name prefix>`` (e.g. ``User:architect-``)."""


def grants(access: ServiceAccess, principal_prefix: str) -> list[AclGrant]:
    """The ACLs ``access`` needs for principal ``<principal_prefix><service>``, least privilege."""
    kind, colon, _ = principal_prefix.partition(":")
    if not colon or not kind or " " in principal_prefix:
        raise PrincipalPrefixError(
            f"principal prefix {principal_prefix!r} is not <type>:<name prefix>, e.g. User:architect-"
        )
    principal = f"{principal_prefix}{access.service}"
    wanted = [
        ("topic", "literal", access.reads, ("Read", "Describe")),
        ("topic", "literal", access.writes, ("Write", "Describe")),
        ("topic", "prefixed", access.internal_topic_prefixes, _INTERNAL_TOPIC_OPERATIONS),
        ("topic", "prefixed", access.creates_topic_prefixes, _CREATED_TOPIC_OPERATIONS),
        ("topic", "literal", access.creates_topics, _CREATED_TOPIC_OPERATIONS),
        ("group", "literal", access.groups, ("Read",)),
        ("group", "prefixed", access.group_prefixes, ("Read",)),
        ("transactional-id", "prefixed", access.transactional_id_prefixes, ("Write", "Describe")),
    ]
    return [
        AclGrant(principal, resource, pattern, tuple(sorted(names)), operations)
        for resource, pattern, names, operations in wanted
        if names
    ]


def acl_command(grant: AclGrant, *, bootstrap_server: str, command_config: str | None) -> str:
    """The ``kafka-acls.sh`` command line adding ``grant``."""
    parts = ["kafka-acls.sh", "--bootstrap-server", bootstrap_server]
    if command_config:
        parts += ["--command-config", command_config]
    parts += ["--add", "--allow-principal", grant.principal, "--resource-pattern-type", grant.pattern]
    for operation in grant.operations:
        parts += ["--operation", operation]
    for name in grant.names:
        parts += [f"--{grant.resource}", name]
    return shlex.join(parts)
