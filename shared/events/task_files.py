"""The files a task declares it touches: task input ``files: [path, ...]`` (pure).

The agent runtime leases them before it runs the task (``services/agent_runtime/file_leases.py``); the assigner
wakes a task given back for a lock conflict when one of them is released. Non-empty strings of at most 1,000
characters; order and repeats do not matter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

FILES_INPUT = "files"


class BadFilesInput(ValueError):
    """Task input ``files`` is not a list of non-empty path strings."""


def declared_files(inputs: Mapping[str, Any]) -> tuple[str, ...]:
    """The sorted, distinct paths a task declares it touches (none when it declares nothing)."""
    files = inputs.get(FILES_INPUT)
    if files is None:
        return ()
    if isinstance(files, str) or not isinstance(files, Sequence):
        raise BadFilesInput(f"input '{FILES_INPUT}' must be a list of paths, not {type(files).__name__}")
    bad = [f for f in files if not isinstance(f, str) or not f.strip() or len(f) > 1000]
    if bad:
        raise BadFilesInput(f"input '{FILES_INPUT}' holds entries that are not paths: {bad[:3]!r}")
    return tuple(sorted(set(files)))
