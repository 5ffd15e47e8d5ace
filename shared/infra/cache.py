"""Where local infrastructure keeps jars, data and pid files: a cache directory outside the git tree."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CACHE_DIR_ENV = "ARCHITECT_CACHE_DIR"


def cache_root() -> Path:
    """``$ARCHITECT_CACHE_DIR`` when set, else ``~/.cache/architect``; created on first use."""
    configured = os.environ.get(CACHE_DIR_ENV)
    root = Path(configured).expanduser() if configured else Path.home() / ".cache" / "architect"
    root.mkdir(parents=True, exist_ok=True)
    return root.resolve()


@contextmanager
def exclusive_lock(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` across processes (two test sessions, a Makefile and a test)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
