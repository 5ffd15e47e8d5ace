"""Detached background processes tracked by pid files: spawn, look up, terminate.

A pid file alone is not proof: the pid may have been reused by an unrelated process after a reboot or a crash,
so a lookup also checks that the process's command line still contains a marker (e.g. its config file path).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

_POLL_SECONDS = 0.1
_EXEC_RETRIES = 50


def spawn_detached(argv: Sequence[str], *, log_file: Path, pid_file: Path, env: Mapping[str, str] | None = None) -> int:
    """Start ``argv`` in its own session with stdout and stderr appended to ``log_file``; returns the pid.

    The process outlives the caller. While the caller lives, a daemon thread waits on it so that a process
    killed during a test does not linger as a zombie that still looks alive.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=dict(env) if env is not None else None,
        )
    threading.Thread(target=process.wait, name=f"reap-{process.pid}", daemon=True).start()
    pid_file.write_text(f"{process.pid}\n")
    return process.pid


def running_pid(pid_file: Path, marker: str) -> int | None:
    """The pid recorded in ``pid_file`` if that process is alive and its command line contains ``marker``."""
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if is_alive(pid, marker) else None


def is_alive(pid: int, marker: str | None = None) -> bool:
    """Whether ``pid`` is a live (non-zombie) process, and, when given, runs with ``marker`` in its argv."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if not Path("/proc/self").exists():
        return True  # no procfs (macOS): signal 0 is the best evidence available
    proc = Path("/proc") / str(pid)
    for _ in range(_EXEC_RETRIES):
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            return False
        if state in ("Z", "X"):
            return False
        if marker is None:
            return True
        if cmdline:
            return marker in cmdline
        # An empty command line: the process is in the middle of exec (its new argv is not mapped yet, which a
        # loaded machine can stretch to many milliseconds after Popen returns). Look again shortly.
        time.sleep(_POLL_SECONDS / 5)
    return False


def send_signal(pid: int, signum: signal.Signals, marker: str | None = None) -> None:
    """Send ``signum`` to ``pid`` unless it is not (or no longer) the process described by ``marker``."""
    if is_alive(pid, marker):
        _signal(pid, signum)


def kill(pid: int, marker: str | None = None) -> None:
    """SIGKILL ``pid`` (a crash, as failover tests need) and wait until it is gone."""
    if is_alive(pid, marker):
        _signal(pid, signal.SIGKILL)
        wait_for_exit(pid, 10.0)


def wait_for_exit(pid: int, timeout: float) -> bool:
    """Poll until ``pid`` has exited; False if it is still alive after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while is_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_SECONDS)
    return True


def log_tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a text file, or a note that it does not exist yet."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode(errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:])


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
