"""`architect kafka acls`: the kafka-acls.sh commands that give each service's principal what it uses."""

from __future__ import annotations

import typer

from shared.bus.access import SERVICE_ACCESS, PrincipalPrefixError, ServiceAccess, acl_command, grants
from shared.bus.topics import EVENT_TOPICS
from shared.cli.context import fail, settings

app = typer.Typer(help="Kafka administration for Architect's deployments.", no_args_is_help=True)


@app.command("acls")
def acls(
    principal_prefix: str = typer.Option(
        "User:architect-",
        "--principal-prefix",
        help="Each service's principal is this followed by its compose/Helm name (User:architect-assigner, ...)",
    ),
    bootstrap_server: str | None = typer.Option(
        None, "--bootstrap-server", help="Broker the commands talk to (default: ARCHITECT_KAFKA_BOOTSTRAP_SERVERS)"
    ),
    command_config: str | None = typer.Option(
        None, "--command-config", help="Client properties file of an admin principal, passed to kafka-acls.sh"
    ),
    services: list[str] = typer.Option(
        [], "--service", help="Only these services (repeatable; default: every one)", show_default=False
    ),
    markdown: bool = typer.Option(False, "--markdown", help="A summary table (as in the README) instead of commands"),
) -> None:
    """Print one `kafka-acls.sh --add` a line, grouped by service, from the declared access (shared/bus/access.py).

    Least privilege: Read on the topics a service consumes, Write on those it publishes to, Read on its consumer
    groups, Write on its transactional ids; the topic job may create, grow and configure `architect.` topics and
    create and configure the faust tables' changelogs."""
    unknown = sorted(set(services) - set(SERVICE_ACCESS))
    if unknown:
        fail(f"unknown service(s) {', '.join(unknown)}; known: {', '.join(sorted(SERVICE_ACCESS))}", code=2)
    if markdown:
        typer.echo(markdown_table([SERVICE_ACCESS[name] for name in services or SERVICE_ACCESS]))
        return
    server = bootstrap_server or settings().kafka_bootstrap_servers
    for name in services or list(SERVICE_ACCESS):
        try:
            service_grants = grants(SERVICE_ACCESS[name], principal_prefix)
        except PrincipalPrefixError as exc:
            fail(str(exc), code=2)
        typer.echo(f"# {name}: {service_grants[0].principal}")
        for grant in service_grants:
            typer.echo(acl_command(grant, bootstrap_server=server, command_config=command_config))


def _topics(names: frozenset[str]) -> str:
    events = set(EVENT_TOPICS)
    shown = [f"`{name.removeprefix('architect.')}`" for name in sorted(names - events if events <= names else names)]
    return ", ".join((["every event topic"] if events <= names else []) + shown) or "-"


def markdown_table(accesses: list[ServiceAccess]) -> str:
    """Principal, topics read and written (without the ``architect.`` prefix), groups and other resources."""
    lines = [
        "| service | reads | writes | consumer groups | also |",
        "|---|---|---|---|---|",
    ]
    for access in accesses:
        groups = [f"`{g}`" for g in sorted(access.groups)] + [f"`{g}*`" for g in sorted(access.group_prefixes)]
        also = (
            [f"transactional ids `{p}*`" for p in sorted(access.transactional_id_prefixes)]
            + [f"its own topics `{p}*`" for p in sorted(access.internal_topic_prefixes)]
            + [f"create, grow and configure `{p}*`" for p in sorted(access.creates_topic_prefixes)]
            + (
                ["create and configure " + ", ".join(f"`{name}`" for name in sorted(access.creates_topics))]
                if access.creates_topics
                else []
            )
        )
        lines.append(
            f"| `{access.service}` | {_topics(access.reads)} | {_topics(access.writes)} | "
            f"{', '.join(groups) or '-'} | {', '.join(also) or '-'} |"
        )
    return "\n".join(lines)
