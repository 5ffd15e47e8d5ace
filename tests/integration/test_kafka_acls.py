"""Kafka ACLs and SASL/SCRAM on a real broker: each service, as its own SCRAM principal, can do what it declares
(shared/bus/access.py) and nothing it does not, through the same client settings the services use.

A broker of its own (plaintext listener for the test's super user, a SASL_PLAINTEXT/SCRAM-SHA-512 listener for the
services, StandardAuthorizer denying whatever no ACL allows). Users are created with SCRAM credentials; the ACLs
come from ``architect kafka acls``: a sample of its printed commands is run with Kafka's own AclCommand and must
add exactly the declared grants, the rest are added through the admin API from the same grants.
Both client stacks are checked: confluent-kafka (kafka_config) and faust's aiokafka (make_app's credentials).
"""

from __future__ import annotations

import asyncio
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from typer.testing import CliRunner

from shared.bus.access import SERVICE_ACCESS, AclGrant, ServiceAccess, grants
from shared.bus.bootstrap import ensure_topics
from shared.bus.client_config import kafka_config
from shared.bus.faust_stream import make_app
from shared.bus.producer import DeliveryError, EventProducer
from shared.bus.topics import AGENTS_REPORTS, DEAD_LETTERS, TABLES, TASKS_EVENTS, TOPICS
from shared.cli.main import app
from shared.infra.kafka_broker import LocalKafka, _java
from shared.infra.kafka_jars import DEPLOY_DIR
from shared.settings import Settings
from tests.infra_fixtures import TEST_KAFKA_NAME, TEST_KAFKA_PORT
from tests.ports import ACL_KAFKA_OFFSET

pytestmark = pytest.mark.integration
#: Plaintext (super user) on the base port, controller on +1, SASL/SCRAM on +2 (see tests/ports.py).
ACL_PORT = TEST_KAFKA_PORT + ACL_KAFKA_OFFSET
SASL_PORT = ACL_PORT + 2
PREFIX = "User:architect-"
#: Services whose printed commands go through Kafka's AclCommand (every resource type and pattern among them).
CLI_CHECKED = ("assigner", "orchestrator", "topics")
#: What kafka-acls.sh runs.
ACL_COMMAND = "org.apache.kafka.tools.AclCommand"
SCRAM_LOGIN = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
SECURED = """
listeners=PLAINTEXT://${host}:${broker_port},CONTROLLER://${host}:${controller_port},SASL_PLAINTEXT://${host}:%(sasl)d
advertised.listeners=PLAINTEXT://${host}:${broker_port},SASL_PLAINTEXT://${host}:%(sasl)d
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=%(jaas)s
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
# The plaintext listeners (the test's admin, the controller) are ANONYMOUS: the super user.
super.users=User:ANONYMOUS
allow.everyone.if.no.acl.found=false
"""


def _password(service: str) -> str:
    return f"pw-{service}-0123456789"


def _deploy_dir(directory: Path) -> Path:
    """The local broker's files with SASL/SCRAM and the authorizer added to its properties."""
    for name in ("pom.xml", "log4j2.xml"):
        shutil.copy(DEPLOY_DIR / name, directory / name)
    template = (DEPLOY_DIR / "server.properties.template").read_text()
    kept = [
        line
        for line in template.splitlines()
        if not line.startswith(("listeners=", "advertised.listeners=", "listener.security.protocol.map="))
    ]
    (directory / "server.properties.template").write_text(
        "\n".join(kept) + SECURED % {"sasl": SASL_PORT, "jaas": SCRAM_LOGIN}
    )
    return directory


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalKafka, str]]:
    kafka = LocalKafka(
        f"{TEST_KAFKA_NAME}-acls", ACL_PORT, deploy_dir=_deploy_dir(tmp_path_factory.mktemp("acl-broker")), heap="384m"
    )
    try:
        admin_bootstrap = kafka.start(clean=True)
    except Exception as error:
        pytest.fail(f"the SASL/ACL broker could not start ({type(error).__name__}): {error}", pytrace=False)
    try:
        admin = AdminClient({"bootstrap.servers": admin_bootstrap})
        upserts = [
            UserScramCredentialUpsertion(
                f"architect-{service}",
                ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096),
                _password(service).encode(),
            )
            for service in SERVICE_ACCESS
        ]
        for future in admin.alter_user_scram_credentials(upserts).values():
            future.result(timeout=30)
        yield kafka, admin_bootstrap
    finally:
        kafka.stop()
        kafka.clean()


def _settings(service: str, *, password: str | None = None) -> Settings:
    return Settings(
        kafka_bootstrap_servers=f"127.0.0.1:{SASL_PORT}",
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username=f"architect-{service}",
        kafka_sasl_password=password or _password(service),
        topic_partitions=1,
        topic_replication_factor=1,
    )


_RESOURCE = {
    "topic": ResourceType.TOPIC,
    "group": ResourceType.GROUP,
    "transactional-id": ResourceType.TRANSACTIONAL_ID,
}
Binding = tuple[str, ResourceType, str, ResourcePatternType, AclOperation]
_PATTERN = {"literal": ResourcePatternType.LITERAL, "prefixed": ResourcePatternType.PREFIXED}


def _operation(name: str) -> AclOperation:
    """kafka-acls.sh's ``DescribeConfigs`` as the admin API's ``DESCRIBE_CONFIGS``."""
    return AclOperation[re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()]


def _bindings(grant: AclGrant) -> set[Binding]:
    return {
        (grant.principal, _RESOURCE[grant.resource], name, _PATTERN[grant.pattern], _operation(op))
        for name in grant.names
        for op in grant.operations
    }


def _acls_of(
    admin: AdminClient, principal: str
) -> set[tuple[str, ResourceType, str, ResourcePatternType, AclOperation]]:
    wanted = AclBindingFilter(
        ResourceType.ANY, None, ResourcePatternType.ANY, principal, None, AclOperation.ANY, AclPermissionType.ALLOW
    )
    found = admin.describe_acls(wanted).result(timeout=30)
    return {(b.principal, b.restype, b.name, b.resource_pattern_type, b.operation) for b in found}


def _declared(service: str) -> set[Binding]:
    return set().union(*(_bindings(grant) for grant in grants(SERVICE_ACCESS[service], PREFIX)))


@pytest.fixture(scope="module")
def granted(secured: tuple[LocalKafka, str]) -> str:
    """Every service's ACLs in place; some added by running the CLI's printed commands with Kafka's AclCommand."""
    kafka, admin_bootstrap = secured
    admin = AdminClient({"bootstrap.servers": admin_bootstrap})
    printed = CliRunner().invoke(app, ["kafka", "acls", "--bootstrap-server", admin_bootstrap])
    assert printed.exit_code == 0, printed.output
    by_service: dict[str, list[list[str]]] = {}
    service = ""
    for line in printed.output.splitlines():
        if line.startswith("# "):
            service = line[2:].split(":")[0]
        elif line:
            by_service.setdefault(service, []).append(shlex.split(line))
    acl_tool = [
        _java(),
        "-Xmx128m",
        "-XX:TieredStopAtLevel=1",
        "-cp",
        f"{kafka.fetch()}/*",
        "org.apache.kafka.tools.AclCommand",
    ]

    def run(argv: list[str]) -> None:
        assert argv[0] == "kafka-acls.sh"
        done = subprocess.run(acl_tool + argv[1:], capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"{shlex.join(argv)}\n{done.stdout}{done.stderr}"

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(run, [argv for name in CLI_CHECKED for argv in by_service[name]]))
    for name in CLI_CHECKED:
        assert _wait_for(lambda name=name: _acls_of(admin, f"{PREFIX}{name}") == _declared(name)), name
    rest = [
        AclBinding(restype, resource, pattern, principal, "*", operation, AclPermissionType.ALLOW)
        for name in SERVICE_ACCESS
        if name not in CLI_CHECKED
        for principal, restype, resource, pattern, operation in _declared(name)
    ]
    for future in admin.create_acls(rest).values():
        future.result(timeout=30)
    assert _wait_for(lambda: all(_acls_of(admin, f"{PREFIX}{name}") == _declared(name) for name in SERVICE_ACCESS))
    # The topic job, as its own principal over SCRAM, creates the catalogue and the faust tables' changelogs.
    states = ensure_topics(_settings("topics"))
    assert {s.name for s in states} == {spec.name for spec in TOPICS} | {table.changelog for table in TABLES}
    # Run again, as every Helm upgrade's hook does: the topics exist, so it brings their configs up to date.
    again = ensure_topics(_settings("topics"))
    assert not any(s.created for s in again) and len(again) == len(states)
    return admin_bootstrap


def _wait_for(condition: object, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.3)
    return False


def _group(access: ServiceAccess) -> str:
    return min(access.groups) if access.groups else f"{min(access.group_prefixes)}acl-probe"


def _consume(settings: Settings, group: str, topics: list[str], timeout_s: float = 30.0) -> list[KafkaError]:
    """Subscribe as ``group``, wait for every topic's partition, commit; the errors Kafka reported on the way."""
    consumer = Consumer(
        kafka_config(settings) | {"group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False}
    )
    errors: list[KafkaError] = []
    try:
        consumer.subscribe(topics)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not errors:
            message = consumer.poll(0.5)
            if message is not None and message.error() and message.error().code() != KafkaError._PARTITION_EOF:
                errors.append(message.error())
            if {tp.topic for tp in consumer.assignment()} == set(topics):
                consumer.commit(offsets=[TopicPartition(t, 0, 0) for t in topics], asynchronous=False)
                return errors
        if not errors:
            errors.append(KafkaError(KafkaError._TIMED_OUT, f"no assignment of {topics} in {timeout_s:.0f}s"))
        return errors
    except KafkaException as exc:
        return [exc.args[0]]
    finally:
        consumer.close()


@pytest.mark.timeout(300, func_only=True)
@pytest.mark.parametrize("service", [name for name in SERVICE_ACCESS if name != "topics"])
def test_each_service_principal_can_do_what_it_declares(granted: str, service: str) -> None:
    access = SERVICE_ACCESS[service]
    settings = _settings(service)
    producer = EventProducer(settings, client_id=f"acl-probe-{service}")
    for topic in sorted(access.writes):
        producer.publish_raw(topic, b"acl-probe", b"{}", event_type="acl-probe")
    producer.flush(60)
    assert _consume(settings, _group(access), sorted(access.reads)) == []
    for prefix in access.transactional_id_prefixes:
        transactional = Producer(kafka_config(settings) | {"transactional.id": f"{prefix}acl-probe"})
        transactional.init_transactions(60)
    for prefix in access.internal_topic_prefixes:
        admin = AdminClient(kafka_config(settings))  # kept: its futures fail once it is collected
        created = admin.create_topics([NewTopic(f"{prefix}acl-probe-changelog", 1, 1)])
        for future in created.values():
            future.result(timeout=30)


@pytest.mark.timeout(300, func_only=True)
def test_an_agent_runtime_cannot_state_task_facts_nor_pose_as_the_assigner(granted: str) -> None:
    settings = _settings("agent-runtime")
    producer = EventProducer(settings, client_id="acl-probe-forger", overrides={"enable.idempotence": False})
    producer.publish_raw(TASKS_EVENTS, b"goal-1", b"{}", event_type="TaskSucceeded")
    with pytest.raises(DeliveryError, match=r"(?i)authoriz"):
        producer.flush(30)
    producer.publish_raw(AGENTS_REPORTS, b"goal-1", b"{}", event_type="TaskSucceeded")
    producer.flush(30)  # its reports topic: allowed
    # The assigner's consumer group and transactional ids are not the runtime's.
    errors = _consume(settings, "architect-assigner", [AGENTS_REPORTS], timeout_s=15)
    assert errors and errors[0].code() == KafkaError.GROUP_AUTHORIZATION_FAILED
    with pytest.raises(KafkaException) as refused:
        Producer(kafka_config(settings) | {"transactional.id": "architect-assigner-forged"}).init_transactions(30)
    assert refused.value.args[0].code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED


@pytest.mark.timeout(300, func_only=True)
def test_the_gateway_cannot_read_unchecked_reports_and_a_wrong_password_is_refused(granted: str) -> None:
    errors = _consume(_settings("gateway"), "architect-reader-acl-probe", [AGENTS_REPORTS], timeout_s=15)
    assert errors and errors[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    admin = AdminClient(kafka_config(_settings("gateway", password="wrong")) | {"socket.timeout.ms": 10_000})
    with pytest.raises(KafkaException) as failed:
        admin.list_topics(timeout=10)
    assert failed.value.args[0].code() in {KafkaError._AUTHENTICATION, KafkaError._TRANSPORT, KafkaError._TIMED_OUT}


async def _faust_client_round_trip(settings: Settings, app_id: str, access: ServiceAccess) -> None:
    """What a faust service's clients do, with the credentials make_app gives faust: join the app's group on its
    topics, commit, and publish to a topic it writes."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.structs import TopicPartition as AioTopicPartition
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    app = make_app(app_id, settings)
    auth = credentials_to_aiokafka_auth(app.conf.broker_credentials)
    assert auth["sasl_mechanism"] == "SCRAM-SHA-512" and auth["security_protocol"] == "SASL_PLAINTEXT"
    reads = sorted(access.reads)
    consumer = AIOKafkaConsumer(
        *reads, bootstrap_servers=settings.kafka_bootstrap_servers, group_id=app_id, enable_auto_commit=False, **auth
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + 60
        while {tp.topic for tp in consumer.assignment()} != set(reads):
            assert time.monotonic() < deadline, f"{app_id} got no assignment of {reads}"
            await consumer.getmany(timeout_ms=500)
        await consumer.commit({AioTopicPartition(topic, 0): 0 for topic in reads})
    finally:
        await consumer.stop()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, **auth)
    await producer.start()
    try:
        await producer.send_and_wait(min(access.writes - {DEAD_LETTERS}), b"{}", key=b"acl-probe")
    finally:
        await producer.stop()


@pytest.mark.timeout(300, func_only=True)
def test_a_faust_service_s_clients_authenticate_and_are_authorized_the_same_way(granted: str, tmp_path: Path) -> None:
    settings = _settings("drift-monitor").model_copy(update={"data_dir": tmp_path})
    asyncio.run(_faust_client_round_trip(settings, "architect-drift-monitor", SERVICE_ACCESS["drift-monitor"]))
