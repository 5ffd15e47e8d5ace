"""The fleet file: which agents a runtime hosts, how they are described to the assigner, and their backends.

```yaml
runtime: {id: laptop, heartbeat_s: 3}
agents:
  - id: coder
    role: worker              # worker | manager | high-level
    capabilities: [code, test]
    capacity: 2               # tasks at once
    cost: 1.5                 # what it bids in auctions
    model: qwen2.5-coder
    token_budget: 200000      # cumulative; omitted = unlimited
    bid: true                 # answer task announcements
    replicas: 3               # coder-1, coder-2, coder-3
    backend: {kind: scripted, latency_s: 0.5}
```
Errors name the agent and the field (``agent 'coder': backend.latency_s: ...``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from services.agent_runtime.backends.callable_backend import CallableBackendConfig
from services.agent_runtime.backends.openai_backend import OpenAIBackendConfig
from services.agent_runtime.backends.scripted_backend import ScriptedBackendConfig
from services.agent_runtime.backends.subprocess_backend import SubprocessBackendConfig
from services.agent_runtime.file_leases import LEASE_WAIT_S
from shared.events.catalogue.agents import Role

BackendConfig = Annotated[
    ScriptedBackendConfig | CallableBackendConfig | SubprocessBackendConfig | OpenAIBackendConfig,
    Field(discriminator="kind"),
]
BACKEND_KINDS = ("scripted", "callable", "subprocess", "openai")
#: Timeout of an assignment that names none: the report's tier timeouts (worker 30 min, manager 60 min).
ROLE_TIMEOUTS_S: dict[str, float] = {"worker": 30 * 60, "manager": 60 * 60, "high-level": 60 * 60}
WEEK_S = 7 * 24 * 3600.0
BUNDLED_FLEETS = Path(__file__).resolve().parent / "fleets"
_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class FleetConfigError(ValueError):
    """The fleet configuration is invalid; ``problems`` name each bad agent and field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid fleet configuration:\n  " + "\n  ".join(problems))
        self.problems = problems


class AgentConfig(BaseModel):
    """One hosted agent (or ``replicas`` identical ones, named ``<id>-1`` .. ``<id>-n``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=150, pattern=_ID_PATTERN)
    role: Role = "worker"
    capabilities: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    capacity: int = Field(default=1, ge=1, le=1000)
    cost: float = Field(default=1.0, ge=0)
    model: str = ""
    token_budget: int | None = Field(default=None, ge=1)
    timeout_s: float | None = Field(default=None, gt=0)
    bid: bool = False
    eta_s: float | None = Field(default=None, ge=0)
    replicas: int = Field(default=1, ge=1, le=1000)
    backend: BackendConfig

    def default_timeout_s(self) -> float:
        """The timeout of an assignment that names none."""
        return self.timeout_s if self.timeout_s is not None else ROLE_TIMEOUTS_S[self.role]

    def expanded(self) -> list[AgentConfig]:
        """The agents this entry stands for: itself, or one per replica with a numbered id."""
        if self.replicas == 1:
            return [self]
        return [self.model_copy(update={"id": f"{self.id}-{n}", "replicas": 1}) for n in range(1, self.replicas + 1)]


class RuntimeConfig(BaseModel):
    """Settings of the runtime process itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default="local", min_length=1, max_length=100, pattern=_ID_PATTERN)
    heartbeat_s: float = Field(default=3.0, gt=0)
    drain_timeout_s: float = Field(default=30.0, ge=0)
    findings_per_goal: int = Field(default=20, ge=0)
    executed_retention_s: float = Field(default=WEEK_S, gt=0)
    #: How long a task waits for file leases another task holds before it is given back (``lock_conflict``).
    lease_wait_s: float = Field(default=LEASE_WAIT_S, gt=0)


class FleetConfig(BaseModel):
    """A runtime and the agents it hosts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    agents: list[AgentConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> FleetConfig:
        seen: set[str] = set()
        for agent in self.hosted():
            if agent.id in seen:
                raise ValueError(f"agent id '{agent.id}' is used more than once")
            seen.add(agent.id)
        return self

    def hosted(self) -> list[AgentConfig]:
        """Every hosted agent, replicas expanded."""
        return [agent for entry in self.agents for agent in entry.expanded()]


def parse_fleet(data: object) -> FleetConfig:
    """Validate a fleet given as plain data; ``FleetConfigError`` lists every problem by agent and field."""
    try:
        return FleetConfig.model_validate(data)
    except ValidationError as exc:
        raise FleetConfigError([_problem(error, data) for error in exc.errors()]) from None


def resolve_fleet_path(name: str | Path) -> Path:
    """A fleet file's path; a bare name of a bundled fleet (``demo``) means ``fleets/<name>.yaml`` of this package.

    Containers and ``make demo`` can then say ``ARCHITECT_AGENT_FLEET=demo`` wherever the package is installed.
    """
    path = Path(name)
    bundled = BUNDLED_FLEETS / f"{name}.yaml"
    if not path.exists() and path.name == str(name) and not path.suffix and bundled.is_file():
        return bundled
    return path


def load_fleet(path: str | Path) -> FleetConfig:
    """Read and validate a YAML fleet file (a path, or the name of a bundled fleet)."""
    path = resolve_fleet_path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise FleetConfigError([f"{path}: cannot read ({exc.strerror or exc})"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FleetConfigError([f"{path}: not valid YAML ({exc})"]) from None
    return parse_fleet(data)


def _problem(error: Any, data: object) -> str:
    loc = list(error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if len(loc) >= 2 and loc[0] == "agents" and isinstance(loc[1], int):
        field = loc[2:]
        if len(field) >= 2 and field[0] == "backend" and field[1] in BACKEND_KINDS:
            field = [field[0], *field[2:]]  # drop the union tag pydantic inserts
        where = ".".join(str(part) for part in field) or "agent"
        return f"agent {_agent_name(data, loc[1])}: {where}: {message}"
    return f"{'.'.join(str(part) for part in loc) or 'fleet'}: {message}"


def _agent_name(data: object, index: int) -> str:
    agents = data.get("agents") if isinstance(data, dict) else None
    entry = agents[index] if isinstance(agents, list) and index < len(agents) else None
    if isinstance(entry, dict) and isinstance(entry.get("id"), str) and entry["id"]:
        return f"'{entry['id']}'"
    return f"#{index + 1}"
