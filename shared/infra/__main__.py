"""``python -m shared.infra``: start, stop and inspect the local Kafka and Postgres.

``start`` prints the bootstrap servers (Kafka) or the URL (Postgres) as the last line on stdout, so a Makefile can
capture it; progress and errors go to stderr. ``status`` exits 3 when the instance is not running.
"""

from __future__ import annotations

import argparse
import os
import sys

from shared.infra import postgres_server
from shared.infra.kafka_broker import DEFAULT_BASE_PORT, KafkaStartError, LocalKafka
from shared.infra.kafka_jars import KafkaFetchError, fetch

NOT_RUNNING = 3


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run one command; returns the process exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.service == "kafka":
            return _kafka(args)
        return _postgres(args)
    except (KafkaStartError, KafkaFetchError, TimeoutError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _kafka(args: argparse.Namespace) -> int:
    if args.action == "fetch":
        print(fetch())
        return 0
    saved = LocalKafka.saved(args.name)
    kafka = LocalKafka(
        args.name,
        args.port or (saved.base_port if saved else DEFAULT_BASE_PORT),
        args.nodes or (len(saved.nodes) if saved else 1),
    )
    if args.action == "start":
        print(f"starting {kafka!r} ...", file=sys.stderr)
        print(kafka.start(args.timeout, clean=args.clean))
        return 0
    if args.action == "stop":
        kafka.stop()
        print(f"stopped Kafka instance {kafka.name!r}", file=sys.stderr)
        return 0
    statuses = kafka.status()
    for entry in statuses:
        state = f"running (pid {entry.pid})" if entry.running else "stopped"
        print(f"{kafka.name} node {entry.node.node_id}  {entry.node.bootstrap}  {state}  log: {entry.node.log_file}")
    return 0 if all(entry.running for entry in statuses) else NOT_RUNNING


def _postgres(args: argparse.Namespace) -> int:
    if args.action == "start":
        if postgres_server.DATABASE_URL_ENV in os.environ:
            print("DATABASE_URL is set; using it instead of an embedded server", file=sys.stderr)
        print(postgres_server.database_url(args.name))
        return 0
    if args.action == "stop":
        stopped = postgres_server.stop(args.name)
        print(f"embedded Postgres {args.name!r} {'stopped' if stopped else 'was not running'}", file=sys.stderr)
        return 0
    url = postgres_server.running_url(args.name)
    configured = os.environ.get(postgres_server.DATABASE_URL_ENV)
    if configured or url:
        print(configured or url)
        return 0
    print(f"embedded Postgres {args.name!r} is not running and DATABASE_URL is not set", file=sys.stderr)
    return NOT_RUNNING


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m shared.infra", description="Start, stop and inspect the local Kafka and Postgres."
    )
    services = parser.add_subparsers(dest="service", required=True)

    kafka = services.add_parser("kafka", help="a local Apache Kafka (KRaft) from Maven Central jars")
    kafka.add_argument("action", choices=["start", "stop", "status", "fetch"])
    kafka.add_argument("--name", default="dev", help="instance name; instances run side by side (default: dev)")
    kafka.add_argument("--nodes", type=int, choices=[1, 3], help="1 broker, or a 3-node cluster (default: 1)")
    kafka.add_argument(
        "--port",
        type=int,
        help=f"client port of node 1; node i uses port+2(i-1) and the next "
        f"port for its controller (default: {DEFAULT_BASE_PORT})",
    )
    kafka.add_argument("--clean", action="store_true", help="start: wipe the stopped instance's data first")
    kafka.add_argument("--timeout", type=float, default=90.0, help="start: seconds to wait for the brokers")

    postgres = services.add_parser("postgres", help="$DATABASE_URL, or an embedded PostgreSQL 16")
    postgres.add_argument("action", choices=["start", "stop", "url"])
    postgres.add_argument("--name", default="dev", help="embedded server name (default: dev)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
