"""The Docker deployment assets agree with the code: settings names, topics, metrics, broker version and wiring.

Pure file checks (no Docker engine): docker-compose.yml, the Dockerfile, deploy/prometheus, deploy/grafana and
deploy/otel are read and compared with shared/settings.py, shared/bus/topics.py, shared/metrics.py and the local
broker's version.
"""

from __future__ import annotations

import importlib
import json
import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

import shared.metrics  # noqa: F401  (importing it registers the metric contract in the default registry)
from shared.bus.topics import TOPICS
from shared.infra.kafka_jars import kafka_version
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
GRAFANA_DIR = ROOT / "deploy" / "grafana"
OTEL_DIR = ROOT / "deploy" / "otel"

#: Series Prometheus writes itself for every scrape target.
PROMETHEUS_OWN_SERIES = frozenset({"up"})

_PROMQL_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_PROMQL_MATCHERS_AND_RANGES = re.compile(r"\{[^}]*\}|\[[^\]]*\]")
_PROMQL_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
# An identifier not glued to a number, a `$variable` or a dotted name, and not called like a function.
_PROMQL_IDENTIFIER = re.compile(r"(?<![\w.$:])[a-zA-Z_:][\w:]*(?![\w:])(?!\s*\()")
_PROMQL_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan"})
_TOPIC_NAME = re.compile(r"(?<![\w.-])architect\.[a-z][a-z0-9_.-]*[a-z0-9]")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (label values, label lists and ranges left out)."""
    text = _PROMQL_STRINGS.sub(" ", expr)
    text = _PROMQL_MATCHERS_AND_RANGES.sub(" ", text)
    text = _PROMQL_LABEL_LISTS.sub(" ", text)
    return {name for name in _PROMQL_IDENTIFIER.findall(text) if name.lower() not in _PROMQL_KEYWORDS}


@cache
def exported_series() -> frozenset[str]:
    """Every series name the default registry exposes, from each family's name and type."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("", "_sum", "_count")}
    return frozenset(f.name + suffix for f in REGISTRY.collect() for suffix in suffixes.get(f.type, ("",)))


def known_series() -> frozenset[str]:
    return exported_series() | PROMETHEUS_OWN_SERIES


def settings_classes(package: str) -> list[type[BaseSettings]]:
    """The shared ``Settings`` plus the settings classes of ``services/<package>/settings.py``, if any."""
    classes: list[type[BaseSettings]] = [Settings]
    if (ROOT / "services" / package / "settings.py").is_file():
        module = importlib.import_module(f"services.{package}.settings")
        classes += [
            value
            for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, BaseSettings) and value.__module__ == module.__name__
        ]
    return classes


def settings_variables(settings_class: type[BaseSettings]) -> frozenset[str]:
    """The environment variable names a settings class reads: prefixed field names, or a field's alias."""
    prefix = settings_class.model_config.get("env_prefix", "")
    names: set[str] = set()
    for field_name, field in settings_class.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, str):
            names.add(alias.upper())
        elif isinstance(alias, AliasChoices):
            names.update(choice.upper() for choice in alias.choices if isinstance(choice, str))
        else:
            names.add(f"{prefix}{field_name}".upper())
    return frozenset(names)


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def architect_services() -> dict[str, dict[str, Any]]:
    """Services whose image is built from the repository's Dockerfile."""
    return {name: spec for name, spec in services().items() if "build" in spec}


def long_running_architect_services() -> dict[str, dict[str, Any]]:
    """Architect services that stay up (the one-shot topic bootstrap excluded)."""
    return {name: spec for name, spec in architect_services().items() if spec.get("restart") != "no"}


def variables_named_in_code(package: str) -> frozenset[str]:
    """``ARCHITECT_*`` names a service package reads directly (e.g. ``FLEET_ENV = "ARCHITECT_AGENT_FLEET"``)."""
    names: set[str] = set()
    for source in (ROOT / "services" / package).rglob("*.py"):
        names |= set(re.findall(r'"(ARCHITECT_[A-Z0-9_]+)"', source.read_text()))
    return frozenset(names)


def package_of(spec: dict[str, Any]) -> str:
    return spec["build"]["args"]["SERVICE"]


def bind_source(service: str, container_path: str) -> Path:
    """The host path a service's bind mounts put at ``container_path``."""
    for volume in services()[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if not source.startswith((".", "/")):
            continue
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return (ROOT / source / container_path[len(target) :].lstrip("/")).resolve()
    raise AssertionError(f"{service} mounts nothing at {container_path}")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def dashboards() -> dict[Path, dict[str, Any]]:
    return {path: json.loads(path.read_text()) for path in sorted((GRAFANA_DIR / "dashboards").glob("*.json"))}


def values_under(node: Any, key: str) -> list[Any]:
    """Every value stored under ``key`` anywhere in a JSON document."""
    if isinstance(node, dict):
        found = [node[key]] if key in node else []
        return found + [v for child in node.values() for v in values_under(child, key)]
    if isinstance(node, list):
        return [v for child in node for v in values_under(child, key)]
    return []


def alert_rules() -> list[dict[str, Any]]:
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    return [
        rule
        for rule_file in config["rule_files"]
        for group in load_yaml(PROMETHEUS_DIR / rule_file)["groups"]
        for rule in group["rules"]
    ]


ARCHITECT_SERVICES = sorted(architect_services())


def test_metric_names_are_read_from_selectors_not_from_functions_labels_or_values() -> None:
    expr = 'sum by (group) (rate(architect_x_total{topic="architect.y"}[$__rate_interval])) > 0.5 and on() up == 0'
    assert metric_names(expr) == {"architect_x_total", "up"}


def test_settings_variables_are_the_prefixed_field_names_or_the_alias() -> None:
    variables = settings_variables(Settings)
    assert {"ARCHITECT_KAFKA_BOOTSTRAP_SERVERS", "ARCHITECT_METRICS_PORT", "DATABASE_URL"} <= variables
    assert "ARCHITECT_DATABASE_URL" not in variables


@pytest.mark.parametrize("name", ARCHITECT_SERVICES)
def test_architect_services_read_only_variables_that_settings_or_opentelemetry_define(name: str) -> None:
    package = package_of(services()[name])
    defined = {v for cls in settings_classes(package) for v in settings_variables(cls)} | variables_named_in_code(
        package
    )
    unknown = {
        variable
        for variable in services()[name]["environment"]
        if variable not in defined and not variable.startswith("OTEL_")
    }
    assert not unknown, f"{name} sets variables no code reads: {sorted(unknown)}"


@pytest.mark.parametrize("name", ARCHITECT_SERVICES)
def test_architect_services_get_the_broker_the_trace_endpoint_and_a_metrics_port(name: str) -> None:
    environment = services()[name]["environment"]
    required = {"ARCHITECT_KAFKA_BOOTSTRAP_SERVERS", "ARCHITECT_METRICS_PORT"}
    required |= {"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"}
    assert required <= set(environment)
    assert environment["ARCHITECT_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:19092"


def test_each_service_reports_traces_under_its_own_name() -> None:
    names = [spec["environment"]["OTEL_SERVICE_NAME"] for spec in architect_services().values()]
    assert len(names) == len(set(names))


def test_services_given_a_database_url_wait_for_a_healthy_postgres() -> None:
    with_database = {name for name, spec in architect_services().items() if "DATABASE_URL" in spec["environment"]}
    assert "projector" in with_database
    for name in with_database:
        assert services()[name]["depends_on"]["postgres"] == {"condition": "service_healthy"}
        assert services()[name]["environment"]["DATABASE_URL"].startswith("postgresql://")


def test_every_service_package_with_an_entry_point_is_built_by_compose() -> None:
    runnable = {path.parent.name for path in (ROOT / "services").glob("*/__main__.py")}
    built = {package_of(spec) for spec in long_running_architect_services().values()}
    assert runnable <= built, f"not deployed: {sorted(runnable - built)}"


def test_compose_names_services_in_kebab_case_after_their_package() -> None:
    for name, spec in long_running_architect_services().items():
        assert name == package_of(spec).replace("_", "-")


def test_long_running_services_restart_and_report_their_health() -> None:
    for name, spec in services().items():
        if spec.get("restart") == "no" or "profiles" in spec:
            continue
        assert spec.get("restart") == "unless-stopped", name
        assert spec.get("healthcheck", {}).get("test"), name


def test_architect_containers_run_locked_down() -> None:
    for name, spec in architect_services().items():
        assert spec["read_only"] is True, name
        assert spec["cap_drop"] == ["ALL"], name
        assert "/var/lib/architect" in spec["tmpfs"], name


def test_dependencies_wait_on_a_condition_the_dependency_can_meet() -> None:
    for name, spec in services().items():
        for dependency, wait in spec.get("depends_on", {}).items():
            target = services()[dependency]
            condition = wait["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in target, f"{name} waits for {dependency} to be healthy; it has no check"
            elif condition == "service_completed_successfully":
                assert target.get("restart") == "no", f"{name} waits for {dependency} to exit; it restarts"
            else:
                assert condition == "service_started", f"{name} -> {dependency}: {condition}"


def test_topic_bootstrap_runs_the_cli_once_before_every_service() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    topics = services()["topics"]
    assert topics["command"][0] in scripts
    assert topics["command"] == ["architect", "topics", "create"]
    assert topics["depends_on"]["kafka"] == {"condition": "service_healthy"}
    for name, spec in long_running_architect_services().items():
        assert spec["depends_on"]["topics"] == {"condition": "service_completed_successfully"}, name


def test_topic_names_in_deployment_files_are_catalogued() -> None:
    files = [COMPOSE_FILE, DOCKERFILE, *(p for d in (PROMETHEUS_DIR, GRAFANA_DIR, OTEL_DIR) for p in d.rglob("*.*"))]
    named = {topic for path in files for topic in _TOPIC_NAME.findall(path.read_text())}
    assert named <= {spec.name for spec in TOPICS}, f"not in shared/bus/topics.py: {sorted(named)}"


def test_compose_kafka_runs_the_local_broker_version() -> None:
    repository, tag = services()["kafka"]["image"].split(":")
    assert repository == "apache/kafka"
    assert tag == kafka_version()


def test_dockerfile_builds_on_python_311_slim_and_runs_the_service_build_arg_as_non_root() -> None:
    instructions = [line.split(maxsplit=1) for line in DOCKERFILE.read_text().splitlines() if line[:1].isupper()]
    bases = [rest.split()[0] for word, rest in instructions if word == "FROM" and "--from" not in rest]
    assert bases == ["python:3.11-slim", "python:3.11-slim"]
    assert ["ARG", "SERVICE"] in instructions
    assert ["ENV", "SERVICE_MODULE=services.${SERVICE}"] in instructions
    assert 'python -m \\"$SERVICE_MODULE\\"' in dict(instructions)["CMD"]
    user = [rest for word, rest in instructions if word == "USER"][-1]
    assert user.split(":")[0] not in {"root", "0"}


def test_build_context_holds_what_the_dockerfile_copies_and_nothing_else() -> None:
    patterns = [line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip()[:1] not in {"", "#"}]
    assert patterns[0] == "*"
    included = {pattern[1:].rstrip("/") for pattern in patterns if pattern.startswith("!")}
    copies = [line.split()[1:-1] for line in DOCKERFILE.read_text().splitlines() if line.startswith("COPY ")]
    sources = {source.rstrip("*") for sources in copies if not sources[0].startswith("--") for source in sources}
    assert sources <= included


def test_prometheus_config_loads_rule_files_that_exist() -> None:
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    assert config["rule_files"]
    assert all((PROMETHEUS_DIR / rule_file).is_file() for rule_file in config["rule_files"])
    assert bind_source("prometheus", "/etc/prometheus/prometheus.yml") == PROMETHEUS_DIR / "prometheus.yml"


def test_prometheus_scrapes_every_long_running_architect_service_on_its_metrics_port() -> None:
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    targets = [
        target for job in config["scrape_configs"] for static in job["static_configs"] for target in static["targets"]
    ]
    scraped = dict(target.split(":") for target in targets)
    assert set(scraped) == set(long_running_architect_services())
    for name, port in scraped.items():
        spec = services()[name]
        metrics_port = spec["environment"]["ARCHITECT_METRICS_PORT"]
        # Port 0 means the service serves /metrics on its own HTTP port (the gateway).
        expected = metrics_port if metrics_port != "0" else spec["ports"][0].split(":")[-1]
        assert port == expected, name


def test_alert_rules_name_a_severity_and_a_summary() -> None:
    rules = alert_rules()
    assert rules
    for rule in rules:
        assert rule["alert"].startswith("Architect")
        assert rule["expr"].strip()
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]


def test_alerts_watch_breakers_drift_consumer_lag_and_dead_letters() -> None:
    watched = {name for rule in alert_rules() for name in metric_names(rule["expr"])}
    assert {
        "architect_breaker_open",
        "architect_agent_stability",
        "architect_consumer_lag",
        "architect_events_dead_lettered_total",
    } <= watched


def test_drift_alert_fires_below_a_stability_of_0_6() -> None:
    (drift,) = [rule for rule in alert_rules() if "architect_agent_stability" in rule["expr"]]
    assert drift["expr"].replace(" ", "") == "architect_agent_stability<0.6"


def test_alert_rules_use_only_exported_metrics() -> None:
    for rule in alert_rules():
        unknown = metric_names(rule["expr"]) - known_series()
        assert not unknown, f"{rule['alert']} uses metrics nothing exports: {sorted(unknown)}"


def test_dashboards_parse_with_unique_uids_and_titles() -> None:
    found = dashboards()
    assert found
    uids = [dashboard["uid"] for dashboard in found.values()]
    titles = [dashboard["title"] for dashboard in found.values()]
    assert len(set(uids)) == len(uids)
    assert len(set(titles)) == len(titles)
    assert "Architect — event backbone" in titles


def test_dashboard_queries_use_only_exported_metrics() -> None:
    for path, dashboard in dashboards().items():
        expressions = values_under(dashboard, "expr")
        assert expressions, path.name
        for expr in expressions:
            unknown = metric_names(expr) - known_series()
            assert not unknown, f"{path.name}: {expr!r} uses metrics nothing exports: {sorted(unknown)}"


def test_dashboards_query_a_provisioned_datasource() -> None:
    provisioned = {
        source["uid"]
        for path in (GRAFANA_DIR / "provisioning" / "datasources").glob("*.yml")
        for source in load_yaml(path)["datasources"]
    }
    for path, dashboard in dashboards().items():
        used = {source["uid"] for source in values_under(dashboard, "datasource")}
        assert used <= provisioned, path.name


def test_grafana_provisions_the_dashboards_folder_that_compose_mounts() -> None:
    assert bind_source("grafana", "/etc/grafana/provisioning") == GRAFANA_DIR / "provisioning"
    for path in (GRAFANA_DIR / "provisioning" / "dashboards").glob("*.yml"):
        for provider in load_yaml(path)["providers"]:
            assert bind_source("grafana", provider["options"]["path"]) == GRAFANA_DIR / "dashboards"
    home = services()["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert bind_source("grafana", home).is_file()


def test_otel_collector_forwards_otlp_traces_to_jaeger() -> None:
    (volume,) = services()["otel-collector"]["volumes"]
    config = load_yaml(bind_source("otel-collector", volume.split(":")[1]))
    traces = config["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"]
    endpoints = [config["exporters"][exporter]["endpoint"] for exporter in traces["exporters"]]
    assert endpoints == ["jaeger:4317"]
    assert services()["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
