"""A real Apache Kafka (KRaft) for local development and tests: one broker, or a 3-node cluster for failover.

Each node is one JVM running broker and controller together, started from the jars that ``kafka_jars`` fetched,
detached from the caller, with its data, rendered ``server.properties``, ``broker.log`` and ``broker.pid`` under
``<cache>/kafka/instances/<name>/node-<id>/``. Instances are told apart by name, so the test suite, a failover
test and the demo can each run their own side by side on different ports.

Ports: node ``i`` (0-based) listens for clients on ``base_port + 2*i`` and for the controller quorum on
``base_port + 2*i + 1``; the default single broker is therefore 9092 (clients) and 9093 (controller).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from string import Template

from shared.infra import background_process
from shared.infra.background_process import log_tail
from shared.infra.cache import cache_root, exclusive_lock
from shared.infra.kafka_jars import DEPLOY_DIR, fetch, kafka_version

DEFAULT_HOST = "127.0.0.1"
DEFAULT_BASE_PORT = 9092
DEFAULT_HEAP = "512m"
HEAP_ENV = "ARCHITECT_KAFKA_HEAP"
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_POLL_SECONDS = 0.25


class KafkaStartError(RuntimeError):
    """A broker could not be started: Java missing, port taken, layout mismatch, or the JVM exited."""


@dataclass(frozen=True)
class KafkaNode:
    """One combined broker+controller process of a local instance and where its files live."""

    node_id: int
    host: str
    broker_port: int
    controller_port: int
    directory: Path

    @property
    def bootstrap(self) -> str:
        """``host:port`` of this node's client listener."""
        return f"{self.host}:{self.broker_port}"

    @property
    def data_dir(self) -> Path:
        """The KRaft log directory (topic partitions and the metadata log)."""
        return self.directory / "data"

    @property
    def properties_file(self) -> Path:
        """The rendered ``server.properties``; its path also identifies the JVM in ``ps``."""
        return self.directory / "server.properties"

    @property
    def log_file(self) -> Path:
        """The JVM's stdout and stderr, where log4j2 writes."""
        return self.directory / "broker.log"

    @property
    def pid_file(self) -> Path:
        """Holds the pid of the running JVM."""
        return self.directory / "broker.pid"


@dataclass(frozen=True)
class NodeStatus:
    """A node and the pid of its JVM, or None when it is not running."""

    node: KafkaNode
    pid: int | None

    @property
    def running(self) -> bool:
        """Whether the node's JVM is alive."""
        return self.pid is not None


class LocalKafka:
    """A named local Kafka instance of 1 or 3 nodes: fetch, start (or reuse), stop, kill and restart nodes."""

    def __init__(
        self,
        name: str = "dev",
        base_port: int = DEFAULT_BASE_PORT,
        nodes: int = 1,
        *,
        host: str = DEFAULT_HOST,
        data_dir: Path | None = None,
        heap: str | None = None,
        cache_dir: Path | None = None,
        deploy_dir: Path = DEPLOY_DIR,
    ) -> None:
        if not _NAME_PATTERN.match(name):
            raise ValueError(f"instance name {name!r} must be letters, digits, '.', '_' or '-'")
        if nodes not in (1, 3):
            raise ValueError("a local instance has 1 node, or 3 for a quorum that survives losing one")
        self.name = name
        self.base_port = base_port
        self.host = host
        self.heap = heap or os.environ.get(HEAP_ENV, DEFAULT_HEAP)
        self.cache_dir = cache_dir
        self.deploy_dir = deploy_dir
        self.directory = data_dir or (cache_dir or cache_root()) / "kafka" / "instances" / name
        self.nodes: tuple[KafkaNode, ...] = tuple(
            KafkaNode(
                node_id=index + 1,
                host=host,
                broker_port=base_port + 2 * index,
                controller_port=base_port + 2 * index + 1,
                directory=self.directory / f"node-{index + 1}",
            )
            for index in range(nodes)
        )

    @classmethod
    def saved(cls, name: str, *, data_dir: Path | None = None, cache_dir: Path | None = None) -> LocalKafka | None:
        """The instance as it was last started under ``name`` (its port and size), or None if never started."""
        probe = cls(name, data_dir=data_dir, cache_dir=cache_dir)
        layout = probe._saved_layout()
        if layout is None:
            return None
        return cls(
            name,
            int(layout["base_port"]),
            int(layout["nodes"]),
            host=str(layout["host"]),
            data_dir=data_dir,
            cache_dir=cache_dir,
        )

    def __repr__(self) -> str:
        return f"LocalKafka(name={self.name!r}, bootstrap={self.bootstrap_servers!r}, nodes={len(self.nodes)})"

    @property
    def bootstrap_servers(self) -> str:
        """Comma-separated ``host:port`` of every node, for ``bootstrap.servers``."""
        return ",".join(node.bootstrap for node in self.nodes)

    def node(self, node_id: int) -> KafkaNode:
        """The node with this id (1-based)."""
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise KeyError(f"{self!r} has no node {node_id}")

    def fetch(self) -> Path:
        """Make sure the broker's jars are in the cache; returns the libs directory."""
        return fetch(self.deploy_dir / "pom.xml", cache_dir=self.cache_dir)

    def status(self) -> list[NodeStatus]:
        """Every node with the pid of its JVM when running."""
        return [NodeStatus(node, self._pid(node)) for node in self.nodes]

    def is_running(self) -> bool:
        """Whether every node's JVM is alive (not whether it answers yet)."""
        return all(entry.running for entry in self.status())

    def start(self, timeout: float = 90.0, *, clean: bool = False) -> str:
        """Start every node that is not running and wait until all answer; returns the bootstrap servers.

        A healthy instance already running under this name is reused as it is. ``clean`` wipes the data of a
        stopped instance first (needed when its port or size changed; ignored for nodes that are running).
        Raises ``KafkaStartError`` when a node cannot start and ``TimeoutError`` when the cluster does not answer.
        """
        libs = self.fetch()
        java = _java()
        # Held until the cluster answers, so a concurrent `start` of the same name waits and then reuses it.
        with exclusive_lock(self.directory.with_name(f".{self.name}.lock")):
            statuses = self.status()
            to_start = [entry.node for entry in statuses if not entry.running]
            self._check_layout(running_nodes=len(statuses) - len(to_start), clean=clean)
            self._check_ports_free(to_start)
            if clean and len(to_start) == len(statuses):
                self.clean()
            spawned: dict[KafkaNode, int] = {}
            if to_start:
                cluster_id = self._prepare()
                self._format(to_start, libs, java, cluster_id)
                spawned = {node: self._spawn(node, libs, java) for node in to_start}
            self._wait_until_ready(timeout, spawned)
        return self.bootstrap_servers

    def wait_until_ready(self, timeout: float = 90.0) -> None:
        """Wait until every node is registered in the cluster's metadata; TimeoutError (with log tails) if not."""
        self._wait_until_ready(timeout, spawned={})

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM every node, wait up to ``timeout`` seconds for a clean shutdown, then SIGKILL what is left."""
        pids = {entry.node: entry.pid for entry in self.status() if entry.pid is not None}
        # All nodes get SIGTERM together so that a cluster shuts down in one round rather than node by node.
        for node, pid in pids.items():
            background_process.send_signal(pid, signal.SIGTERM, marker=str(node.properties_file))
        deadline = time.monotonic() + timeout
        for node, pid in pids.items():
            if not background_process.wait_for_exit(pid, max(0.0, deadline - time.monotonic())):
                background_process.kill(pid, marker=str(node.properties_file))
            node.pid_file.unlink(missing_ok=True)

    def kill_node(self, node_id: int) -> None:
        """SIGKILL one node, as a crash would, and wait until its process is gone."""
        node = self.node(node_id)
        pid = self._pid(node)
        if pid is not None:
            background_process.kill(pid, marker=str(node.properties_file))
        node.pid_file.unlink(missing_ok=True)

    def start_node(self, node_id: int, timeout: float = 90.0) -> None:
        """Start one stopped or killed node again and wait until the cluster lists it among its brokers."""
        node = self.node(node_id)
        spawned: dict[KafkaNode, int] = {}
        if self._pid(node) is None:
            self._check_ports_free([node])
            spawned[node] = self._spawn(node, self.fetch(), _java())
        self._wait_until_ready(timeout, spawned)

    def clean(self) -> None:
        """Delete the instance's data, logs and saved layout; refuses while any node runs."""
        if any(entry.running for entry in self.status()):
            raise KafkaStartError(f"{self!r} is running; stop it before cleaning its data")
        shutil.rmtree(self.directory, ignore_errors=True)

    # -- internals ----------------------------------------------------------------------------------------

    def _pid(self, node: KafkaNode) -> int | None:
        return background_process.running_pid(node.pid_file, marker=str(node.properties_file))

    def _layout(self) -> dict[str, object]:
        return {"base_port": self.base_port, "nodes": len(self.nodes), "host": self.host}

    def _layout_file(self) -> Path:
        return self.directory / "instance.json"

    def _saved_layout(self) -> dict[str, object] | None:
        try:
            return json.loads(self._layout_file().read_text())
        except FileNotFoundError:
            return None

    def _check_layout(self, *, running_nodes: int, clean: bool) -> None:
        saved = self._saved_layout()
        if saved is None:
            return
        wanted = self._layout()
        if all(saved.get(key) == value for key, value in wanted.items()):
            return
        described = f"{saved.get('nodes')} node(s) on {saved.get('host')}:{saved.get('base_port')}"
        if running_nodes:
            raise KafkaStartError(
                f"Kafka instance {self.name!r} is running with {described}; stop it first "
                f"(python -m shared.infra kafka stop --name {self.name}) or use another --name"
            )
        if not clean:
            raise KafkaStartError(
                f"Kafka instance {self.name!r} was created with {described}; its data cannot be reused for "
                f"{len(self.nodes)} node(s) on {self.host}:{self.base_port}. Start with --clean (clean=True) to "
                f"wipe it, or use another --name"
            )

    def _prepare(self) -> str:
        """Write the layout, a cluster id and every node's properties; returns the cluster id."""
        self.directory.mkdir(parents=True, exist_ok=True)
        saved = self._saved_layout() or {}
        cluster_id = str(saved.get("cluster_id") or _random_cluster_id())
        version = kafka_version(self.deploy_dir / "pom.xml")
        layout = {**self._layout(), "cluster_id": cluster_id, "kafka_version": version}
        self._layout_file().write_text(json.dumps(layout, indent=2) + "\n")
        template = Template((self.deploy_dir / "server.properties.template").read_text())
        replication = 3 if len(self.nodes) == 3 else 1
        voters = ",".join(f"{node.node_id}@{node.host}:{node.controller_port}" for node in self.nodes)
        for node in self.nodes:
            node.data_dir.mkdir(parents=True, exist_ok=True)
            node.properties_file.write_text(
                template.substitute(
                    node_id=node.node_id,
                    host=node.host,
                    broker_port=node.broker_port,
                    controller_port=node.controller_port,
                    quorum_voters=voters,
                    log_dirs=node.data_dir,
                    replication_factor=replication,
                    min_insync_replicas=2 if replication == 3 else 1,
                )
            )
        return cluster_id

    def _format(self, nodes: Sequence[KafkaNode], libs: Path, java: str, cluster_id: str) -> None:
        """Format the KRaft storage of nodes that were never formatted, in parallel (one JVM each)."""
        unformatted = [node for node in nodes if not (node.data_dir / "meta.properties").exists()]

        def format_one(node: KafkaNode) -> None:
            command = [
                java,
                "-Xmx256m",
                "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC",
                f"-Dlog4j2.configurationFile={self.deploy_dir / 'log4j2.xml'}",
                "-cp",
                f"{libs}/*",
                "kafka.tools.StorageTool",
                "format",
                "--ignore-formatted",
                "-t",
                cluster_id,
                "-c",
                str(node.properties_file),
            ]
            result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
            if result.returncode != 0:
                raise KafkaStartError(
                    f"formatting the storage of node {node.node_id} failed (exit {result.returncode}):\n"
                    f"{(result.stdout + result.stderr).strip()[-3000:]}"
                )

        with ThreadPoolExecutor(max_workers=max(1, len(unformatted))) as pool:
            for future in [pool.submit(format_one, node) for node in unformatted]:
                future.result()

    def _spawn(self, node: KafkaNode, libs: Path, java: str) -> int:
        command = [
            java,
            f"-Xmx{self.heap}",
            "-XX:+ExitOnOutOfMemoryError",
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.deploy_dir / 'log4j2.xml'}",
            f"-Dkafka.logs.dir={node.directory}",
            "-cp",
            f"{libs}/*",
            "kafka.Kafka",
            str(node.properties_file),
        ]
        with node.log_file.open("a") as log:
            log.write(f"\n==== starting node {node.node_id} at {time.strftime('%Y-%m-%d %H:%M:%S')} ====\n")
        return background_process.spawn_detached(command, log_file=node.log_file, pid_file=node.pid_file)

    def _check_ports_free(self, nodes: Sequence[KafkaNode]) -> None:
        for node in nodes:
            for port in (node.broker_port, node.controller_port):
                if _port_in_use(node.host, port):
                    raise KafkaStartError(
                        f"port {node.host}:{port} (node {node.node_id} of Kafka instance {self.name!r}) is in use "
                        f"by another process; stop it or choose another base port (--port)"
                    )

    def _wait_until_ready(self, timeout: float, spawned: dict[KafkaNode, int]) -> None:
        """Wait for every node to register; fail fast when a JVM started by this call exits."""

        def raise_if_a_spawned_node_died() -> None:
            for node, pid in spawned.items():
                if not background_process.is_alive(pid):
                    node.pid_file.unlink(missing_ok=True)
                    raise KafkaStartError(
                        f"Kafka node {node.node_id} of instance {self.name!r} exited during startup. "
                        f"Last lines of {node.log_file}:\n{log_tail(node.log_file)}"
                    )

        _wait_for_brokers(
            self.bootstrap_servers,
            timeout,
            brokers=len(self.nodes),
            log_files=[node.log_file for node in self.nodes],
            check_alive=raise_if_a_spawned_node_died,
        )


def wait_until_ready(bootstrap: str, timeout: float = 60.0, *, log_file: Path | None = None) -> None:
    """Poll metadata requests until a broker at ``bootstrap`` answers; TimeoutError (with the log tail) if not."""
    _wait_for_brokers(bootstrap, timeout, brokers=1, log_files=[log_file] if log_file else [])


def _wait_for_brokers(
    bootstrap: str,
    timeout: float,
    *,
    brokers: int,
    log_files: Sequence[Path],
    check_alive: Callable[[], None] | None = None,
) -> None:
    # Imported here so that `python -m shared.infra postgres ...` does not need librdkafka.
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(
        {
            "bootstrap.servers": bootstrap,
            # The broker is expected to refuse connections for a few seconds; retry fast and quietly.
            "reconnect.backoff.ms": 100,
            "reconnect.backoff.max.ms": 500,
            "log_level": 0,
        }
    )
    deadline = time.monotonic() + timeout
    seen = 0
    while True:
        if check_alive is not None:
            check_alive()
        try:
            metadata = admin.list_topics(timeout=min(2.0, max(0.1, deadline - time.monotonic())))
            seen = len(metadata.brokers)
            if seen >= brokers:
                return
        except KafkaException:
            pass
        if time.monotonic() >= deadline:
            tails = "\n".join(f"--- last lines of {path}:\n{log_tail(path)}" for path in log_files)
            raise TimeoutError(
                f"Kafka at {bootstrap} did not answer metadata requests with {brokers} broker(s) within "
                f"{timeout:.0f}s (last answer listed {seen}).\n{tails}".rstrip()
            )
        time.sleep(_POLL_SECONDS)


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home) / "bin" / "java" if java_home else None
    if candidate is not None and candidate.is_file():
        return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise KafkaStartError(
            "Java is not on PATH; the local Kafka broker needs Java 17+ "
            "(e.g. `apt-get install openjdk-17-jre-headless`)"
        )
    return found


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def _random_cluster_id() -> str:
    """A Kafka cluster id: a random UUID in URL-safe base64 without padding, as ``StorageTool random-uuid``."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):  # Kafka refuses ids that look like command-line flags
            return cluster_id
