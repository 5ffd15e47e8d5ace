"""Offline checks of the Helm chart (deploy/helm/architect) and the plain manifests (k8s/).

Every manifest validates against the Kubernetes schemas (kubernetes-validate, strict: unknown fields fail); the
chart is rendered by a real helm; its defaults equal k8s/base; and both agree with the code and compose file
(images, entry points, environment variables, ports, probes, consumer group and topic of the autoscaler).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from services.agent_runtime.entry import FLEET_ENV
from services.agent_runtime.fleet_config import load_fleet
from services.agent_runtime.service import group_for
from services.gateway.settings import GatewaySettings
from shared.bus.access import SERVICE_ACCESS
from shared.bus.topics import AGENTS_ASSIGNMENTS
from shared.health import LIVENESS_PATH, READINESS_PATH
from shared.settings import Settings
from tests.deploy.kustomize_lite import build
from tests.deploy.rendering import (
    CHART,
    K8S,
    ROOT,
    ChartRenderError,
    Manifest,
    by_kind_and_name,
    containers,
    render_chart,
    validate,
    without_helm_bookkeeping,
)

VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
EVERY_SERVICE_ON = [f"services.{name}.enabled=true" for name in VALUES["services"]]
EVERY_OPTION_ON = [
    *EVERY_SERVICE_ON,
    "serviceMonitor.enabled=true",
    "agentRuntimeAutoscaling.enabled=true",
    "otel.endpoint=http://otel-collector:4318",
    "kafka.sasl.mechanism=SCRAM-SHA-512",
    "kafka.sasl.username=architect",
    "secrets.existingSecret=architect-credentials",
    "image.registry=registry.example/acme",
    "agentIdentity.runtimeCredential=tokens",
    "kafka.securityProtocol=SASL_SSL",
    "kafka.tls.secretName=kafka-tls",
    "kafka.tls.clientCertificate=true",
]


@pytest.fixture(scope="module")
def chart_defaults() -> list[Manifest]:
    return render_chart()


@pytest.fixture(scope="module")
def chart_everything_with_keda() -> list[Manifest]:
    return render_chart(*EVERY_OPTION_ON, "agentRuntimeAutoscaling.keda.enabled=true")


@pytest.fixture(scope="module")
def chart_everything_with_hpa() -> list[Manifest]:
    return render_chart(*EVERY_OPTION_ON, "agentRuntimeAutoscaling.keda.enabled=false")


def _ids(manifests: list[Manifest]) -> list[str]:
    return [f"{m['kind']}/{m['metadata']['name']}" for m in manifests]


PLAIN_SETS = {"base": build(K8S / "base"), "overlays/local": build(K8S / "overlays" / "local")}


@pytest.mark.parametrize(
    "manifest",
    [m for ms in PLAIN_SETS.values() for m in ms],
    ids=[f"{name}:{i}" for name, ms in PLAIN_SETS.items() for i in _ids(ms)],
)
def test_every_plain_manifest_validates(manifest: Manifest) -> None:
    validate(manifest)


def test_every_chart_manifest_validates_with_defaults_and_every_option(
    chart_defaults: list[Manifest],
    chart_everything_with_keda: list[Manifest],
    chart_everything_with_hpa: list[Manifest],
) -> None:
    for manifests in (chart_defaults, chart_everything_with_keda, chart_everything_with_hpa):
        for manifest in manifests:
            validate(manifest)
    kinds = {m["kind"] for m in chart_everything_with_keda} | {m["kind"] for m in chart_everything_with_hpa}
    assert {"ScaledObject", "HorizontalPodAutoscaler", "ServiceMonitor"} <= kinds


def test_a_broken_manifest_fails_validation(chart_defaults: list[Manifest]) -> None:
    deployment = next(m for m in chart_defaults if m["kind"] == "Deployment")
    misspelt = copy.deepcopy(deployment)
    misspelt["spec"]["replica"] = misspelt["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(misspelt)
    wrong_type = copy.deepcopy(deployment)
    containers(wrong_type)[0]["ports"][0]["containerPort"] = "nine thousand"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(wrong_type)


def test_a_broken_custom_resource_fails_validation(chart_everything_with_keda: list[Manifest]) -> None:
    scaled = copy.deepcopy(next(m for m in chart_everything_with_keda if m["kind"] == "ScaledObject"))
    scaled["spec"]["triggers"][0]["metadata"]["lagThreshold"] = 10
    with pytest.raises(jsonschema.ValidationError):
        validate(scaled)


def test_plain_base_is_the_chart_with_default_values(chart_defaults: list[Manifest]) -> None:
    chart = {key: without_helm_bookkeeping(m) for key, m in by_kind_and_name(chart_defaults).items()}
    plain = by_kind_and_name(PLAIN_SETS["base"])
    assert sorted(plain) == sorted(chart)
    for key, manifest in plain.items():
        assert manifest == chart[key], f"k8s/base differs from the chart's defaults in {key}"


def test_local_overlay_puts_everything_in_its_namespace_with_local_images_and_settings() -> None:
    local = by_kind_and_name(PLAIN_SETS["overlays/local"])
    assert ("Namespace", "architect") in local
    for (kind, _), manifest in local.items():
        if kind != "Namespace":
            assert manifest["metadata"]["namespace"] == "architect"
        for container in containers(manifest):
            assert container["image"].endswith(":dev")
    config = local[("ConfigMap", "architect-config")]["data"]
    assert config["ARCHITECT_TOPIC_REPLICATION_FACTOR"] == "1"
    # The topic job gets the settings inline: the overlay keeps it in step with the ConfigMap.
    job_env = {e["name"]: e.get("value") for e in containers(local[("Job", "architect-topics")])[0]["env"]}
    assert {k: job_env[k] for k in config} == config


def test_sasl_without_an_existing_secret_is_refused_with_the_reason() -> None:
    with pytest.raises(ChartRenderError, match=re.escape("kafka.sasl needs secrets.existingSecret")):
        render_chart("kafka.sasl.mechanism=SCRAM-SHA-512")


def _deployments(manifests: list[Manifest]) -> dict[str, Manifest]:
    return {m["metadata"]["labels"]["app.kubernetes.io/component"]: m for m in manifests if m["kind"] == "Deployment"}


def _env(manifests: list[Manifest], deployment: Manifest) -> dict[str, Any]:
    """Environment of a deployment's container: its ConfigMap's data, overridden by its own env."""
    config = next(m for m in manifests if m["kind"] == "ConfigMap")["data"]
    own = {e["name"]: e.get("value", e.get("valueFrom")) for e in containers(deployment)[0]["env"]}
    return {**config, **own}


def test_every_service_runs_by_default(chart_defaults: list[Manifest]) -> None:
    assert set(_deployments(chart_defaults)) == {
        "scheduler",
        "assigner",
        "orchestrator",
        "projector",
        "gateway",
        "agent-runtime",
        "drift-monitor",
        "saga-coordinator",
        "consensus",
        "locks",
    }
    assert all(service["enabled"] for service in VALUES["services"].values())


def test_enabled_services_have_an_entry_point_the_image_can_run() -> None:
    for name, service in VALUES["services"].items():
        if service["enabled"]:
            assert (ROOT / "services" / service["module"] / "__main__.py").is_file(), name


def test_images_and_settings_match_the_compose_file() -> None:
    manifests = render_chart(*EVERY_SERVICE_ON, "otel.endpoint=http://jaeger:4318")
    deployments = _deployments(manifests)
    for name, compose_service in COMPOSE["services"].items():
        build_args = compose_service.get("build", {}).get("args", {})
        if "SERVICE" not in build_args or name == "topics":
            continue
        assert VALUES["services"][name]["module"] == build_args["SERVICE"], name
        deployment = deployments[name]
        # The image `docker build --build-arg SERVICE=<module> -t architect-<name>` makes.
        assert containers(deployment)[0]["image"] == f"architect-{name}:0.1.0"
        env = _env(manifests, deployment)
        compose_env = compose_service["environment"]
        missing = set(compose_env) - set(env)
        assert not missing, f"{name}: compose sets {sorted(missing)}, the chart does not"
        assert env["OTEL_SERVICE_NAME"] == compose_env["OTEL_SERVICE_NAME"]
        for pinned in ("ARCHITECT_AGENT_FLEET", "ARCHITECT_GATEWAY_HOST"):
            if pinned in compose_env:
                assert env[pinned] == compose_env[pinned], (name, pinned)
        if name == "gateway":
            assert env["ARCHITECT_METRICS_PORT"] == compose_env["ARCHITECT_METRICS_PORT"] == "0"
    topics_job = next(m for m in manifests if m["kind"] == "Job")
    assert containers(topics_job)[0]["image"] == "architect-projector:0.1.0"


def _known_variables() -> set[str]:
    shared = {f"ARCHITECT_{field.upper()}" for field in Settings.model_fields} | {"DATABASE_URL"}
    gateway = {f"ARCHITECT_GATEWAY_{field.upper()}" for field in GatewaySettings.model_fields}
    return shared | gateway | {FLEET_ENV, "OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_ENDPOINT"}


def test_every_variable_the_manifests_set_is_one_a_service_reads(chart_everything_with_keda: list[Manifest]) -> None:
    known = _known_variables()
    for manifests in (chart_everything_with_keda, PLAIN_SETS["base"]):
        for manifest in manifests:
            names = set(manifest.get("data", {})) if manifest["kind"] == "ConfigMap" else set()
            names |= set(manifest.get("stringData", {}))
            for container in containers(manifest):
                names |= {e["name"] for e in container.get("env", [])}
            assert names <= known, f"{manifest['kind']}/{manifest['metadata']['name']}: {sorted(names - known)}"


def test_ports_and_probes_are_the_ones_the_processes_serve(chart_everything_with_keda: list[Manifest]) -> None:
    exposed = re.search(r"^EXPOSE (\d+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert exposed and int(exposed.group(1)) == VALUES["metricsPort"]
    assert GatewaySettings.model_fields["port"].default == VALUES["gateway"]["port"]
    gateway_paths = _gateway_paths()
    for name, deployment in _deployments(chart_everything_with_keda).items():
        container = containers(deployment)[0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        expected = {"http": VALUES["gateway"]["port"]} if name == "gateway" else {"metrics": VALUES["metricsPort"]}
        assert ports == expected, name
        liveness, readiness = container["livenessProbe"]["httpGet"], container["readinessProbe"]["httpGet"]
        assert (liveness["path"], readiness["path"]) == (LIVENESS_PATH, READINESS_PATH)
        assert liveness["port"] in ports and readiness["port"] in ports
        if name == "gateway":
            assert {LIVENESS_PATH, READINESS_PATH, "/metrics"} <= gateway_paths


def _gateway_paths() -> set[str]:
    from services.gateway.app import create_app

    return set(create_app(Settings(), GatewaySettings(allow_dev_key=True)).openapi()["paths"])


def test_services_disruption_budgets_and_monitor_select_the_pods_they_mean(
    chart_everything_with_keda: list[Manifest],
) -> None:
    deployments = _deployments(chart_everything_with_keda)
    for manifest in chart_everything_with_keda:
        component = manifest["metadata"]["labels"]["app.kubernetes.io/component"]
        if manifest["kind"] == "Service":
            pod = deployments[component]["spec"]["template"]["metadata"]["labels"]
            assert manifest["spec"]["selector"].items() <= pod.items()
            port_names = {p["name"] for p in containers(deployments[component])[0]["ports"]}
            assert {p["targetPort"] for p in manifest["spec"]["ports"]} <= port_names
        if manifest["kind"] == "PodDisruptionBudget":
            pod = deployments[component]["spec"]["template"]["metadata"]["labels"]
            assert manifest["spec"]["selector"]["matchLabels"].items() <= pod.items()
    monitor = next(m for m in chart_everything_with_keda if m["kind"] == "ServiceMonitor")
    scraped = {e["port"] for e in monitor["spec"]["endpoints"]}
    services = [m for m in chart_everything_with_keda if m["kind"] == "Service"]
    assert len(services) == len(deployments)
    for service in services:
        assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        assert {p["name"] for p in service["spec"]["ports"]} <= scraped


def test_keda_scales_the_runtime_on_its_consumer_group_lag_and_shrinks_after_idle(
    chart_everything_with_keda: list[Manifest],
) -> None:
    scaling = VALUES["agentRuntimeAutoscaling"]
    scaled = next(m for m in chart_everything_with_keda if m["kind"] == "ScaledObject")["spec"]
    trigger = scaled["triggers"][0]
    fleet = load_fleet(VALUES["services"]["agent-runtime"]["fleet"])
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["consumerGroup"] == group_for(fleet.runtime.id)
    assert trigger["metadata"]["topic"] == AGENTS_ASSIGNMENTS
    assert trigger["metadata"]["bootstrapServers"] == VALUES["kafka"]["bootstrapServers"]
    assert scaled["scaleTargetRef"]["name"] == "architect-agent-runtime"
    assert scaled["maxReplicaCount"] <= VALUES["topics"]["partitions"]
    assert scaled["cooldownPeriod"] == scaling["idleScaleDownSeconds"]
    behavior = scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == scaling["idleScaleDownSeconds"]
    assert not any(m["kind"] == "HorizontalPodAutoscaler" for m in chart_everything_with_keda)
    # The autoscaler owns the replica count.
    assert "replicas" not in _deployments(chart_everything_with_keda)["agent-runtime"]["spec"]


def test_without_keda_an_hpa_scales_the_runtime_with_the_same_idle_window(
    chart_everything_with_hpa: list[Manifest],
) -> None:
    scaling = VALUES["agentRuntimeAutoscaling"]
    hpa = next(m for m in chart_everything_with_hpa if m["kind"] == "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "architect-agent-runtime"}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (scaling["minReplicas"], scaling["maxReplicas"])
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == scaling["idleScaleDownSeconds"]
    assert not any(m["kind"] == "ScaledObject" for m in chart_everything_with_hpa)


def test_the_topic_job_runs_the_cli_as_a_helm_hook_before_the_services(chart_defaults: list[Manifest]) -> None:
    job = next(m for m in chart_defaults if m["kind"] == "Job")
    assert containers(job)[0]["command"] == ["python", "-m", "shared.cli.main", "topics", "create"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    config = next(m for m in chart_defaults if m["kind"] == "ConfigMap")["data"]
    job_env = {e["name"]: e.get("value") for e in containers(job)[0]["env"]}
    assert {k: job_env[k] for k in config} == config


def test_secrets_stay_out_of_the_config_map(chart_everything_with_keda: list[Manifest]) -> None:
    config = next(m for m in chart_everything_with_keda if m["kind"] == "ConfigMap")["data"]
    secret_keys = {"DATABASE_URL", "ARCHITECT_GATEWAY_API_KEYS", "ARCHITECT_KAFKA_SASL_PASSWORD"}
    assert not (secret_keys | {"ARCHITECT_AGENT_IDENTITY_SECRET", "ARCHITECT_AGENT_TOKENS"}) & set(config)
    # With an existing Secret the chart makes none and every reference points at it.
    assert not any(m["kind"] == "Secret" for m in chart_everything_with_keda)
    for manifest in chart_everything_with_keda:
        for container in containers(manifest):
            for env in container.get("env", []):
                if "valueFrom" in env:
                    assert env["valueFrom"]["secretKeyRef"]["name"] == "architect-credentials"


def test_chart_readme_documents_every_top_level_value() -> None:
    readme = (CHART / "README.md").read_text()
    for key in VALUES:
        assert f"`{key}" in readme, key


def test_plain_manifest_files_are_all_listed() -> None:
    for directory in (K8S / "base", K8S / "overlays" / "local"):
        listed = yaml.safe_load((directory / "kustomization.yaml").read_text())
        named = set(listed.get("resources", [])) | {p["path"] for p in listed.get("patches", [])}
        on_disk = {p.name for p in Path(directory).glob("*.yaml")} - {"kustomization.yaml"}
        assert on_disk <= named, f"{directory}: {sorted(on_disk - named)} not in kustomization.yaml"


IDENTITY_SECRET = "ARCHITECT_AGENT_IDENTITY_SECRET"
IDENTITY_TOKENS = "ARCHITECT_AGENT_TOKENS"


def _secret_refs(deployment: Manifest) -> dict[str, dict[str, Any]]:
    return {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in containers(deployment)[0]["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }


def test_agent_identity_reaches_the_assigner_and_the_runtime_and_no_other_service(
    chart_defaults: list[Manifest],
) -> None:
    for manifests in (chart_defaults, PLAIN_SETS["base"]):
        for name, deployment in _deployments(manifests).items():
            refs = _secret_refs(deployment)
            if name in {"assigner", "agent-runtime"}:
                # Optional: without the key the services run unchecked instead of failing to start.
                assert refs[IDENTITY_SECRET] == {"name": "architect-secrets", "key": IDENTITY_SECRET, "optional": True}
            else:
                assert IDENTITY_SECRET not in refs, name
            assert IDENTITY_TOKENS not in refs, name
    # No secret set: no key at all (an empty one would be a secret of "" to the assigner).
    secret = next(m for m in chart_defaults if m["kind"] == "Secret")
    assert IDENTITY_SECRET not in secret["stringData"]
    for service in ("assigner", "agent-runtime"):
        assert IDENTITY_SECRET in COMPOSE["services"][service]["environment"], service
        assert COMPOSE["services"][service]["environment"][IDENTITY_SECRET] is None, "compose passes the host's value"


def test_a_runtime_given_tokens_holds_no_secret_and_the_values_reach_the_secret() -> None:
    manifests = render_chart(
        "agentIdentity.secret=s3cret", "agentIdentity.runtimeCredential=tokens", "agentIdentity.tokens=coder-1=abc"
    )
    secret = next(m for m in manifests if m["kind"] == "Secret")["stringData"]
    assert (secret[IDENTITY_SECRET], secret[IDENTITY_TOKENS]) == ("s3cret", "coder-1=abc")
    deployments = _deployments(manifests)
    runtime = _secret_refs(deployments["agent-runtime"])
    assert IDENTITY_TOKENS in runtime and IDENTITY_SECRET not in runtime
    assert IDENTITY_SECRET in _secret_refs(deployments["assigner"])
    config = next(m for m in manifests if m["kind"] == "ConfigMap")["data"]
    assert not {IDENTITY_SECRET, IDENTITY_TOKENS} & set(config)


def test_an_unknown_runtime_credential_is_refused_with_the_reason() -> None:
    with pytest.raises(ChartRenderError, match=re.escape("agentIdentity.runtimeCredential must be secret or tokens")):
        render_chart("agentIdentity.runtimeCredential=both")


def _labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def test_jaeger_is_off_by_default_and_then_no_service_traces(chart_defaults: list[Manifest]) -> None:
    assert not any(m["metadata"]["name"].endswith("-jaeger") for m in chart_defaults)
    config = next(m for m in chart_defaults if m["kind"] == "ConfigMap")["data"]
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in config


def test_enabled_jaeger_receives_every_service_s_spans_like_compose_s() -> None:
    manifests = render_chart("jaeger.enabled=true", "serviceMonitor.enabled=true")
    for manifest in manifests:
        validate(manifest)
    keyed = by_kind_and_name(manifests)
    deployment, service = keyed[("Deployment", "architect-jaeger")], keyed[("Service", "architect-jaeger")]
    container = containers(deployment)[0]
    # The image compose runs, with OTLP enabled the same way.
    assert container["image"] == VALUES["jaeger"]["image"] == COMPOSE["services"]["jaeger"]["image"]
    assert {"name": "COLLECTOR_OTLP_ENABLED", "value": "true"} in container["env"]
    assert COMPOSE["services"]["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    pod_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert {"otlp-grpc": 4317, "otlp-http": 4318, "ui": 16686}.items() <= pod_ports.items()
    assert {(p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == {
        (4317, "otlp-grpc"),
        (4318, "otlp-http"),
        (16686, "ui"),
    }
    assert _labels_match(service["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"])
    for probe in (container["livenessProbe"], container["readinessProbe"]):
        assert probe["httpGet"]["port"] in pod_ports
    # Every service and the topic job send OTLP/HTTP to the Jaeger Service's 4318 (compose: http://jaeger:4318).
    endpoint = "http://architect-jaeger:4318"
    assert _env(manifests, _deployments(manifests)["scheduler"])["OTEL_EXPORTER_OTLP_ENDPOINT"] == endpoint
    job_env = {e["name"]: e.get("value") for e in containers(keyed[("Job", "architect-topics")])[0]["env"]}
    assert job_env["OTEL_EXPORTER_OTLP_ENDPOINT"] == endpoint
    assert COMPOSE["x-architect-env"]["OTEL_EXPORTER_OTLP_ENDPOINT"].endswith("http://jaeger:4318}")
    # Prometheus scrapes Architect's services, not Jaeger's OTLP ports.
    monitor = next(m for m in manifests if m["kind"] == "ServiceMonitor")
    assert not _labels_match(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])


def test_an_explicit_otlp_endpoint_wins_over_the_chart_s_jaeger() -> None:
    manifests = render_chart("jaeger.enabled=true", "otel.endpoint=http://otel-collector:4318")
    config = next(m for m in manifests if m["kind"] == "ConfigMap")["data"]
    assert config["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    assert ("Deployment", "architect-jaeger") in by_kind_and_name(manifests)


def test_per_service_kafka_users_are_the_principals_the_acls_grant() -> None:
    manifests = render_chart(
        "kafka.sasl.mechanism=SCRAM-SHA-512",
        "kafka.sasl.username=shared-user",
        "kafka.sasl.perServiceUsers=true",
        "secrets.existingSecret=architect-credentials",
    )
    for manifest in manifests:
        validate(manifest)
    config = next(m for m in manifests if m["kind"] == "ConfigMap")["data"]
    assert "ARCHITECT_KAFKA_SASL_USERNAME" not in config
    users: dict[str, str] = {}
    for manifest in manifests:
        if manifest["kind"] not in {"Deployment", "Job"}:
            continue
        env = {e["name"]: e for e in containers(manifest)[0]["env"]}
        component = manifest["metadata"]["labels"]["app.kubernetes.io/component"]
        users[component] = env["ARCHITECT_KAFKA_SASL_USERNAME"]["value"]
        password = env["ARCHITECT_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
        # Required: a service without its password does not start as someone else.
        assert password == {
            "name": "architect-credentials",
            "key": f"ARCHITECT_KAFKA_SASL_PASSWORD_{component.replace('-', '_').upper()}",
        }
    # `architect kafka acls --principal-prefix User:architect-` grants exactly these users.
    assert users == {service: f"architect-{service}" for service in SERVICE_ACCESS}


def test_per_service_users_need_a_sasl_mechanism() -> None:
    with pytest.raises(ChartRenderError, match=re.escape("kafka.sasl.perServiceUsers needs kafka.sasl.mechanism")):
        render_chart("kafka.sasl.perServiceUsers=true", "secrets.existingSecret=architect-credentials")


def test_kafka_tls_files_reach_every_client_from_the_named_secret(chart_everything_with_keda: list[Manifest]) -> None:
    config = next(m for m in chart_everything_with_keda if m["kind"] == "ConfigMap")["data"]
    locations = {
        "ARCHITECT_KAFKA_SSL_CA_LOCATION": "ca.crt",
        "ARCHITECT_KAFKA_SSL_CERTIFICATE_LOCATION": "tls.crt",
        "ARCHITECT_KAFKA_SSL_KEY_LOCATION": "tls.key",
    }
    assert config["ARCHITECT_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    clients = [m for m in chart_everything_with_keda if m["kind"] in {"Deployment", "Job"}]
    assert len(clients) == len(VALUES["services"]) + 1
    for manifest in clients:
        container = containers(manifest)[0]
        mount = next(v for v in container["volumeMounts"] if v["name"] == "kafka-tls")
        assert mount["readOnly"] is True
        volumes = manifest["spec"]["template"]["spec"]["volumes"]
        assert next(v for v in volumes if v["name"] == "kafka-tls")["secret"]["secretName"] == "kafka-tls"
        env = {e["name"]: e.get("value") for e in container["env"]}
        settings = env if manifest["kind"] == "Job" else config
        for variable, file in locations.items():
            assert settings[variable] == f"{mount['mountPath']}/{file}", (manifest["metadata"]["name"], variable)


def test_without_tls_nothing_is_mounted_or_set(chart_defaults: list[Manifest]) -> None:
    config = next(m for m in chart_defaults if m["kind"] == "ConfigMap")["data"]
    assert not any(key.startswith("ARCHITECT_KAFKA_SSL_") for key in config)
    for manifest in chart_defaults:
        for container in containers(manifest):
            assert all(v["name"] != "kafka-tls" for v in container.get("volumeMounts", []))
