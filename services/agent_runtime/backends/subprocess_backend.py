"""A backend that runs a command per task (a coding-agent CLI, a script): task JSON in, JSON out.

The command reads the task request as one JSON object on stdin and writes one JSON object on stdout
(``tokens_used`` in it is its usage, the rest its output). A non-zero exit is a crash unless ``exit_codes``
maps it to another error class; running past the task's timeout kills the command's whole process group.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.agent_runtime.backends.contract import BackendFailure, BackendResult, TaskRequest
from shared.events.catalogue.tasks import ErrorClass

STDERR_TAIL_CHARS = 2000
#: How long to wait for a killed command's pipes to close before giving up on its last output.
REAP_TIMEOUT_S = 5.0


class SubprocessBackendConfig(BaseModel):
    """Options of the subprocess backend; ``command`` is a list of arguments or a shell-style string."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["subprocess"] = "subprocess"
    command: list[str] = Field(min_length=1)
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    exit_codes: dict[int, ErrorClass] = Field(default_factory=dict)
    expected_latency_s: float | None = Field(default=None, ge=0)

    @field_validator("command", mode="before")
    @classmethod
    def _split_string(cls, value: object) -> object:
        return shlex.split(value) if isinstance(value, str) else value


class SubprocessBackend:
    """Runs the configured command once per task, bounded by the task's timeout."""

    def __init__(self, config: SubprocessBackendConfig) -> None:
        self._config = config

    def expected_latency_s(self) -> float | None:
        return self._config.expected_latency_s

    def execute(self, request: TaskRequest) -> BackendResult:
        config = self._config
        try:
            process = subprocess.Popen(
                config.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=config.cwd,
                env=os.environ | config.env,
                # Its own process group, so a timeout kills the children a CLI may have spawned too.
                start_new_session=True,
            )
        except OSError as exc:
            raise BackendFailure("crash", f"cannot start {config.command[0]!r}: {exc}") from None
        try:
            stdout, stderr = process.communicate(json.dumps(request.to_dict()).encode(), timeout=request.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            raise BackendFailure(
                "timeout", f"{config.command[0]!r} did not finish within {request.timeout_s}s"
            ) from None
        if process.returncode != 0:
            error_class = config.exit_codes.get(process.returncode, "crash")
            tail = stderr.decode(errors="replace")[-STDERR_TAIL_CHARS:].strip()
            raise BackendFailure(error_class, f"{config.command[0]!r} exited with status {process.returncode}: {tail}")
        try:
            reply = json.loads(stdout)
        except ValueError as exc:
            raise BackendFailure("invalid", f"stdout is not one JSON object ({exc})") from None
        return BackendResult.from_reply(reply)

    def close(self) -> None:
        return None


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    try:
        process.communicate(timeout=REAP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        # A grandchild that left the group still holds the pipes: stop reading them; the command is dead.
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        process.wait(REAP_TIMEOUT_S)
