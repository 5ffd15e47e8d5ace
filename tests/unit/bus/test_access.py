"""The declared Kafka access of each service (shared/bus/access.py) covers what its code really uses.

Read from the code: the topic constants a service's modules import, the catalogue payloads they build, the
catalogue's owners (a command's owner consumes it, an event's owner publishes it), the helpers that bring topics
and groups of their own (CRDT replicas, compacted state, log scans, delayed delivery, faust apps), the consumer
groups and transactional ids. A service that starts using a topic fails here until its ACLs grant it.
"""

from __future__ import annotations

import ast
import importlib
import re
from functools import cache
from pathlib import Path

import pytest
import yaml

import shared.bus.topics as topics_module
from shared.agent_identity import REPORT_TYPES
from shared.bus.access import (
    CRDT_GROUP_PREFIX,
    SCAN_GROUP_PREFIX,
    SERVICE_ACCESS,
    SERVICE_STATE_TOPICS,
    TOPIC_PREFIX,
    ServiceAccess,
)
from shared.bus.topics import (
    AGENTS_ASSIGNMENTS,
    AGENTS_REPORTS,
    DEAD_LETTERS,
    SCHEDULER_DELAYED,
    STATE_CRDT,
    TABLES,
    TASKS_EVENTS,
    TOPICS,
)
from shared.events.catalogue import CATALOGUE

ROOT = Path(__file__).resolve().parents[3]
VALUES = yaml.safe_load((ROOT / "deploy" / "helm" / "architect" / "values.yaml").read_text())
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
#: Deployed service name -> package under services/ (the chart's values say which image runs which).
PACKAGES: dict[str, str] = {name: spec["module"] for name, spec in VALUES["services"].items()}
#: Catalogue owners named differently from their deployment.
OWNER_SERVICE = {"lock-manager": "locks"}
PAYLOADS = {spec.payload.__name__: spec for spec in CATALOGUE.values()}


@cache
def _sources(package: str) -> dict[Path, str]:
    files = (ROOT / "services" / package).rglob("*.py")
    return {path: path.read_text() for path in files if "tests" not in path.parts}


def _text(package: str) -> str:
    return "\n".join(_sources(package).values())


def _imported_topics(package: str) -> set[str]:
    """Topics named by the constants the package imports from shared.bus.topics."""
    found: set[str] = set()
    for source in _sources(package).values():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and node.module == "shared.bus.topics":
                for alias in node.names:
                    value = getattr(topics_module, alias.name)
                    if isinstance(value, str):
                        found.add(value)
                    elif isinstance(value, tuple) and all(isinstance(v, str) for v in value):
                        found.update(value)
    return found


def _built_payload_topics(service: str) -> set[str]:
    """Topics of the catalogue payloads the package constructs (agents' reports go to the reports topic)."""
    text = _text(PACKAGES[service])
    topics = set()
    for name, spec in PAYLOADS.items():
        if re.search(rf"(?<![\w.]){name}\(", text):
            topics.add(AGENTS_REPORTS if service == "agent-runtime" and spec.type in REPORT_TYPES else spec.topic)
    return topics


def _uses(service: str, *calls: str) -> bool:
    """Whether the package calls one of ``calls`` (not a method or a definition of that name)."""
    text = _text(PACKAGES[service])
    return any(re.search(rf"(?<![\w.])(?<!def ){re.escape(call)}\(", text) for call in calls)


SERVICES = sorted(PACKAGES)


def test_every_deployed_client_is_declared_under_its_compose_and_helm_name() -> None:
    built = {name for name, spec in COMPOSE["services"].items() if "SERVICE" in spec.get("build", {}).get("args", {})}
    assert set(SERVICE_ACCESS) == set(PACKAGES) | {"topics"} == built


@pytest.mark.parametrize("service", SERVICES)
def test_the_topics_a_service_names_are_granted(service: str) -> None:
    access = SERVICE_ACCESS[service]
    missing = _imported_topics(PACKAGES[service]) - access.reads - access.writes
    assert not missing, f"{service} uses {sorted(missing)} without ACLs for them"


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_may_write_every_payload_it_builds_and_its_dead_letters(service: str) -> None:
    access = SERVICE_ACCESS[service]
    missing = _built_payload_topics(service) - access.writes
    assert not missing, f"{service} builds events for {sorted(missing)} without Write on them"
    assert DEAD_LETTERS in access.writes


def test_owners_read_their_commands_and_write_their_events() -> None:
    for spec in CATALOGUE.values():
        access = SERVICE_ACCESS[OWNER_SERVICE.get(spec.owner, spec.owner)]
        if spec.kind == "command":
            assert spec.topic in access.reads, (spec.type, access.service)
        elif access.service == "agent-runtime" and spec.type in REPORT_TYPES:
            assert AGENTS_REPORTS in access.writes
        else:
            assert spec.topic in access.writes, (spec.type, access.service)


#: Services whose CRDT replica never publishes.
READ_ONLY_REPLICAS = frozenset({"assigner"})


@pytest.mark.parametrize("service", SERVICES)
def test_helpers_that_bring_topics_and_groups_of_their_own_are_granted(service: str) -> None:
    access = SERVICE_ACCESS[service]
    if _uses(service, "Replica", "FleetReplica"):
        assert STATE_CRDT in access.reads and CRDT_GROUP_PREFIX in access.group_prefixes
        # The assigner's replica only reads the lock manager's leases: no Write for it.
        assert (STATE_CRDT in access.writes) == (service not in READ_ONLY_REPLICAS)
    if _uses(service, "CompactedState", "read_to_end", "scan_consumer", "read_assigned"):
        assert SCAN_GROUP_PREFIX in access.group_prefixes
    if _uses(service, "schedule"):
        assert SCHEDULER_DELAYED in access.writes
    if _uses(service, "make_app"):
        app_id = importlib.import_module(f"services.{PACKAGES[service]}.service").APP_ID
        assert app_id in access.groups and f"{app_id}-" in access.internal_topic_prefixes
    else:
        assert not access.internal_topic_prefixes


@pytest.mark.parametrize("service", SERVICES)
def test_consumer_groups_and_transactional_ids_are_granted(service: str) -> None:
    access = SERVICE_ACCESS[service]
    if service == "gateway":  # no consumer group of its own and no transactions: only log scans
        assert not (access.groups or access.transactional_id_prefixes) and not _uses(service, "ConsumerLoop")
        return
    module = importlib.import_module(f"services.{PACKAGES[service]}.service")
    groups = {getattr(module, name) for name in ("GROUP", "DLQ_GROUP", "CRDT_GROUP") if hasattr(module, name)}
    assert groups <= access.groups
    if service == "agent-runtime":
        assert any(module.group_for("some-runtime").startswith(p) for p in access.group_prefixes)
    transactional = re.findall(r"transactional_id=(f?\"[^\"]*\"|\w+)", _text(PACKAGES[service]))
    assert bool(transactional) == bool(access.transactional_id_prefixes)
    for expression in transactional:
        # GROUP, or f"{GROUP}-{instance}": each under a granted prefix.
        value = module.GROUP if expression == "GROUP" else expression.strip('f"').replace("{GROUP}", module.GROUP)
        assert any(value.startswith(p) for p in access.transactional_id_prefixes), (service, expression)


def test_throw_away_group_prefixes_are_the_ones_the_code_uses() -> None:
    reader = (ROOT / "shared" / "bus" / "reader.py").read_text()
    replica = (ROOT / "shared" / "crdt" / "replica.py").read_text()
    assert f'"group.id": f"{SCAN_GROUP_PREFIX}{{uuid.uuid4()}}"' in reader
    assert f'"group.id": f"{CRDT_GROUP_PREFIX}{{uuid.uuid4()}}"' in replica


def test_every_topic_has_a_writer_and_a_reader_and_the_topic_job_may_create_them_all() -> None:
    for spec in TOPICS:
        assert any(spec.name in a.writes for a in SERVICE_ACCESS.values()), spec.name
        assert any(spec.name in a.reads for a in SERVICE_ACCESS.values()), spec.name
        assert spec.name.startswith(TOPIC_PREFIX)
    assert SERVICE_ACCESS["topics"] == ServiceAccess(
        "topics",
        creates_topic_prefixes=frozenset({TOPIC_PREFIX}),
        creates_topics=frozenset(table.changelog for table in TABLES),
    )


def test_the_topic_job_creates_the_tables_changelogs_which_their_faust_app_may_also_use() -> None:
    """The topic job creates each faust table's changelog before the app starts; the app reads, writes and (on
    an older deployment, where it still makes its changelog itself) creates it under its internal prefix."""
    for table in TABLES:
        (owner,) = [a for a in SERVICE_ACCESS.values() if table.app_id in a.groups]
        assert any(table.changelog.startswith(prefix) for prefix in owner.internal_topic_prefixes), table
        assert not table.changelog.startswith(TOPIC_PREFIX), "the catalogue's prefix is the topic job's to create"


def test_agents_cannot_state_task_outcomes_or_assign_work() -> None:
    runtime = SERVICE_ACCESS["agent-runtime"]
    assert AGENTS_REPORTS in runtime.writes
    assert not {TASKS_EVENTS, AGENTS_ASSIGNMENTS} & runtime.writes
    assert AGENTS_REPORTS in SERVICE_ACCESS["assigner"].reads
    # Only the assigner turns reports into facts: no other service reads them.
    assert [a.service for a in SERVICE_ACCESS.values() if AGENTS_REPORTS in a.reads] == ["assigner"]


def test_the_gateway_re_drives_to_subscribed_topics_but_never_into_a_service_s_state() -> None:
    gateway = SERVICE_ACCESS["gateway"]
    assert not SERVICE_STATE_TOPICS & gateway.writes
    for topic in SERVICE_STATE_TOPICS:
        readers = [a.service for a in SERVICE_ACCESS.values() if topic in a.reads]
        # Read only by its owner, with a scan (no consumer group of its own, so no dead letters from it).
        assert len(readers) == 1 and _uses(readers[0], "CompactedState"), topic
