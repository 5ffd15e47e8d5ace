"""Task inputs declared by method steps, with `${param}` references to the goal's parameters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_REFERENCE = re.compile(r"^\$\{([A-Za-z0-9_]+)\}$")


def resolve_inputs(inputs: Mapping[str, Any], params: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Replace every string value that is exactly `${name}` by `params[name]` (any JSON value).

    Returns the resolved inputs and the names of referenced parameters that are missing. Only whole
    values are substituted, so a value is never half-rendered text.
    """
    resolved: dict[str, Any] = {}
    missing: list[str] = []
    for key, value in inputs.items():
        match = _REFERENCE.match(value) if isinstance(value, str) else None
        if match is None:
            resolved[key] = value
        elif match.group(1) in params:
            resolved[key] = params[match.group(1)]
        else:
            missing.append(match.group(1))
    return resolved, tuple(missing)
