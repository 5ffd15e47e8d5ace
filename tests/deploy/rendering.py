"""Render the Helm chart with a real helm and validate manifests against the Kubernetes schemas."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from tests.deploy.crd_schemas import CUSTOM_RESOURCE_SCHEMAS

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "architect"
K8S = ROOT / "k8s"
#: The Kubernetes version manifests are validated for (the chart's kubeVersion floor is lower).
KUBE_VERSION = "1.32.0"
RELEASE = "architect"

Manifest = dict[str, Any]


def helm_binary() -> str:
    """``$HELM``, the virtualenv's helm (``make helm`` builds it there) or helm on PATH."""
    candidates = [os.environ.get("HELM"), str(Path(sys.executable).parent / "helm"), shutil.which("helm")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError("no helm binary: run `make helm` (builds it into .venv/bin) or set HELM=/path/to/helm")


def render_chart(*set_values: str) -> list[Manifest]:
    """``helm template`` of the chart as release ``architect``, with ``--set`` for each of ``set_values``."""
    command = [helm_binary(), "template", RELEASE, str(CHART), "--kube-version", KUBE_VERSION]
    for value in set_values:
        command += ["--set", value]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise ChartRenderError(result.stderr.strip())
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


class ChartRenderError(RuntimeError):
    """helm refused to render the chart; the message is helm's."""


def validate(manifest: Manifest) -> None:
    """Raise if ``manifest`` does not match its kind's schema (unknown fields included)."""
    custom = CUSTOM_RESOURCE_SCHEMAS.get((manifest.get("apiVersion", ""), manifest.get("kind", "")))
    if custom is not None:
        jsonschema.validate(manifest, custom)
        return
    kubernetes_validate.validate(manifest, KUBE_VERSION, strict=True)


def by_kind_and_name(manifests: list[Manifest]) -> dict[tuple[str, str], Manifest]:
    keyed: dict[tuple[str, str], Manifest] = {}
    for manifest in manifests:
        key = (manifest["kind"], manifest["metadata"]["name"])
        assert key not in keyed, f"{key} is rendered twice"
        keyed[key] = manifest
    return keyed


def without_helm_bookkeeping(manifest: Manifest) -> Manifest:
    """The manifest less what only Helm adds: its chart/managed-by labels and helm.sh/ annotations."""
    cleaned = yaml.safe_load(yaml.safe_dump(manifest))
    metadata = cleaned["metadata"]
    labels = metadata.get("labels", {})
    labels.pop("helm.sh/chart", None)
    labels.pop("app.kubernetes.io/managed-by", None)
    annotations = {k: v for k, v in metadata.get("annotations", {}).items() if not k.startswith("helm.sh/")}
    metadata.pop("annotations", None)
    if annotations:
        metadata["annotations"] = annotations
    return cleaned


def containers(manifest: Manifest) -> list[Manifest]:
    return manifest.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
