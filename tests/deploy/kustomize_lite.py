"""The part of kustomize that k8s/ uses, so the tests render it without a kustomize binary.

Supported in a kustomization.yaml: ``resources`` (files and directories), ``namespace``, ``images``
(``newName``/``newTag``) and ``patches`` given by ``path`` (strategic-merge patches naming their target by kind
and name). Anything else is refused, so a kustomization using more fails the tests instead of being misread.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Manifest = dict[str, Any]
SUPPORTED_FIELDS = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
#: Kinds that live outside namespaces (kustomize leaves their metadata.namespace alone).
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


class KustomizeError(ValueError):
    """The kustomization uses something this renderer does not support, or a patch matches nothing."""


def load_manifests(path: Path) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def build(directory: Path) -> list[Manifest]:
    """The manifests ``kubectl kustomize directory`` would print (for the supported subset)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(kustomization) - SUPPORTED_FIELDS
    if unsupported:
        raise KustomizeError(f"{directory}: unsupported kustomization fields {sorted(unsupported)}")
    manifests: list[Manifest] = []
    for resource in kustomization.get("resources", []):
        target = directory / resource
        manifests.extend(build(target) if target.is_dir() else load_manifests(target))
    for patch_file in kustomization.get("patches", []):
        if set(patch_file) != {"path"}:
            raise KustomizeError(f"{directory}: only patches given by path are supported, not {patch_file}")
        for patch in load_manifests(directory / patch_file["path"]):
            _apply_patch(manifests, patch, directory)
    for image in kustomization.get("images", []):
        _set_image(manifests, image)
    if namespace := kustomization.get("namespace"):
        for manifest in manifests:
            if manifest["kind"] not in CLUSTER_SCOPED:
                manifest["metadata"]["namespace"] = namespace
    return manifests


def _apply_patch(manifests: list[Manifest], patch: Manifest, directory: Path) -> None:
    for index, manifest in enumerate(manifests):
        if manifest["kind"] == patch["kind"] and manifest["metadata"]["name"] == patch["metadata"]["name"]:
            manifests[index] = strategic_merge(manifest, patch)
            return
    raise KustomizeError(f"{directory}: patch for {patch['kind']}/{patch['metadata']['name']} matches nothing")


def strategic_merge(base: Any, patch: Any) -> Any:
    """Maps merge key by key; lists of named maps (containers, env, ports, volumes) merge by name; else replace."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = copy.deepcopy(base)
        for key, value in patch.items():
            merged[key] = strategic_merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if _named_list(base) and _named_list(patch):
        merged_list = copy.deepcopy(base)
        positions = {item["name"]: i for i, item in enumerate(merged_list)}
        for item in patch:
            if item["name"] in positions:
                merged_list[positions[item["name"]]] = strategic_merge(merged_list[positions[item["name"]]], item)
            else:
                merged_list.append(copy.deepcopy(item))
        return merged_list
    return copy.deepcopy(patch)


def _named_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(i, dict) and "name" in i for i in value)


def _set_image(manifests: list[Manifest], image: dict[str, str]) -> None:
    for manifest in manifests:
        pod = manifest.get("spec", {}).get("template", {}).get("spec", {})
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            name, _, tag = container["image"].partition(":")
            if name == image["name"]:
                container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"
