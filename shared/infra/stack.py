"""Architect's services as local processes, supervised together (the demo, end-to-end tests, `make run`).

Each service runs as ``python -m services.<name>`` with the same environment variables as in Docker and
Kubernetes; logs go to ``<log_dir>/<name>.log``. Tests use ``kill`` (SIGKILL) and ``start`` to prove recovery.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shared.infra.background_process import log_tail

CORE_SERVICES = ("scheduler", "assigner", "orchestrator", "saga_coordinator", "consensus", "projector")


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def module(self) -> str:
        return f"services.{self.name}"


def _stop_with_parent() -> None:
    """In the child: receive SIGTERM when the process that started it dies (no orphaned services after a
    crashed test session or a killed demo). Linux only; elsewhere a no-op."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


PR_SET_PDEATHSIG = 1


class ServiceFailed(RuntimeError):
    """A service exited while it should be running; the message carries its last log lines."""


class LocalStack:
    """Start, kill, restart and stop a set of services sharing one broker and one database."""

    def __init__(
        self, bootstrap: str, database_url: str, log_dir: Path, extra_env: Mapping[str, str] | None = None
    ) -> None:
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._env = (
            os.environ
            | {
                "ARCHITECT_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "DATABASE_URL": database_url,
                "ARCHITECT_LOG_LEVEL": os.environ.get("ARCHITECT_LOG_LEVEL", "INFO"),
                "PYTHONUNBUFFERED": "1",
                # Per-agent identity: the runtimes sign their reports, the assigner checks them (one secret a stack).
                "ARCHITECT_AGENT_IDENTITY_SECRET": os.environ.get("ARCHITECT_AGENT_IDENTITY_SECRET")
                or secrets.token_hex(16),
            }
            | dict(extra_env or {})
        )
        self._specs: dict[str, ServiceSpec] = {}
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, spec: ServiceSpec | str) -> None:
        spec = ServiceSpec(spec) if isinstance(spec, str) else spec
        self._specs[spec.name] = spec
        log = (self.log_dir / f"{spec.name}.log").open("ab")  # appended across restarts of one run
        self._procs[spec.name] = subprocess.Popen(
            [sys.executable, "-m", spec.module, *spec.args],
            env=self._env | dict(spec.env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_stop_with_parent,
        )

    def start_all(self, specs: Iterable[ServiceSpec | str] = CORE_SERVICES) -> None:
        for spec in specs:
            self.start(spec)

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown hooks, no flushing (the crash the services must survive)."""
        proc = self._procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def restart(self, name: str) -> None:
        self.start(self._specs[name])

    def check(self) -> None:
        """Raise ``ServiceFailed`` if any service has exited."""
        for name, proc in self._procs.items():
            if proc.poll() is not None:
                raise ServiceFailed(f"{name} exited with {proc.returncode}:\n{log_tail(self.log_dir / f'{name}.log')}")

    def exited(self) -> list[str]:
        """The services whose process has exited."""
        return [name for name, proc in self._procs.items() if proc.poll() is not None]

    def names(self) -> list[str]:
        return list(self._procs)

    def stop(self, timeout: float = 30.0) -> dict[str, int | None]:
        """SIGTERM everything, wait, SIGKILL what is left; returns each service's exit code."""
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        codes: dict[str, int | None] = {}
        for name, proc in self._procs.items():
            try:
                codes[name] = proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = None
        return codes


def full_stack(gateway_port: int, api_keys: str, fleet: str = "demo") -> list[ServiceSpec]:
    """Every running service of the local stack: the core, the drift monitor, the lock manager (file leases of
    tasks that declare ``files``), an agent runtime hosting ``fleet`` and the gateway."""
    gateway_env = {
        "ARCHITECT_GATEWAY_PORT": str(gateway_port),
        "ARCHITECT_GATEWAY_API_KEYS": api_keys,
    }
    return [
        *(ServiceSpec(name) for name in CORE_SERVICES),
        ServiceSpec("drift_monitor"),
        ServiceSpec("locks"),
        ServiceSpec("agent_runtime", ("--config", fleet)),
        ServiceSpec("gateway", env=gateway_env),
    ]


def interrupt(_signum: int, _frame: object) -> None:
    """SIGTERM handled like Ctrl-C: the foreground commands stop their services cleanly."""
    raise KeyboardInterrupt


def main() -> None:
    """``make run``: the broker, Postgres and every service in the foreground until Ctrl-C or SIGTERM."""
    import secrets

    from shared.infra.cache import cache_root
    from shared.infra.environment import bring_up

    signal.signal(signal.SIGTERM, interrupt)
    env = bring_up("architect", fresh=False)
    api_key = os.environ.get("ARCHITECT_GATEWAY_API_KEYS") or f"{secrets.token_urlsafe(18)}=local:submit+approve+admin"
    stack = LocalStack(env.bootstrap, env.database_url, cache_root() / "logs" / "run")
    try:
        stack.start_all(full_stack(8080, api_key))
        print(f"services: {', '.join(stack.names())}; logs in {stack.log_dir}")
        print(f"gateway:  http://127.0.0.1:8080/docs   API key: {api_key.split('=', 1)[0]}")
        print("Ctrl-C stops everything")
        while True:
            stack.check()
            time.sleep(2)
    except KeyboardInterrupt:
        print("\nstopping ...")
    finally:
        codes = stack.stop()
        env.stop()
        print("stopped: " + ", ".join(f"{name} ({code})" for name, code in codes.items()))


if __name__ == "__main__":
    main()
