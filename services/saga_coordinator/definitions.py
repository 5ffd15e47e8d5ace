"""Saga definitions from YAML files (validated, with errors naming file, step and field) or from Python.

A YAML definition looks like:

    name: autopilot_run
    version: 1
    steps:
      - name: plan_milestone
        action: {operator: plan_milestone}           # a task for an agent (capability: defaults to the operator)
        compensation: {command: DeletePlan}          # ... or a command to publish; params: {...} optional
        retry: {max_attempts: 3, base_delay_seconds: 1}
        timeout_seconds: 3600                        # null waits indefinitely; omitted: 1800
        compensate_if_failed: false

From Python, build `SagaDefinition` / `SagaStep` directly, or pass a mapping to `parse_definition`.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from services.saga_coordinator.retry_policy import RetryPolicy
from services.saga_coordinator.saga import (
    DEFAULT_COMPENSATION_RETRY,
    DEFAULT_STEP_TIMEOUT_SECONDS,
    SagaAction,
    SagaDefinition,
    SagaStep,
)

_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
BUILTIN_PACKAGE = "services.saga_coordinator.builtin"


class SagaDefinitionError(ValueError):
    """A saga definition is invalid; the message names the source, the step and the field."""


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operator: str | None = Field(default=None, min_length=1)
    command: str | None = Field(default=None, min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    capability: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _exactly_one_target(self) -> _Action:
        if (self.operator is None) == (self.command is None):
            raise ValueError("give exactly one of 'operator' or 'command'")
        if self.capability is not None and self.operator is None:
            raise ValueError("'capability' applies to an operator only")
        return self

    def build(self) -> SagaAction:
        if self.operator is not None:
            return SagaAction("operator", self.operator, self.params, self.capability)
        return SagaAction("command", self.command or "", self.params)


class _Retry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(default=3, ge=1, le=100)
    base_delay_seconds: float = Field(default=1.0, ge=0)
    multiplier: float = Field(default=2.0, ge=1)
    max_delay_seconds: float = Field(default=300.0, ge=0)
    jitter_ratio: float = Field(default=0.1, ge=0, le=1)

    def build(self) -> RetryPolicy:
        return RetryPolicy(**self.model_dump())


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_NAME_PATTERN)
    action: _Action
    compensation: _Action | None = None
    retry: _Retry = Field(default_factory=_Retry)
    timeout_seconds: float | None = Field(default=DEFAULT_STEP_TIMEOUT_SECONDS, gt=0)
    compensation_retry: _Retry = Field(default_factory=lambda: _Retry(**DEFAULT_COMPENSATION_RETRY.to_dict()))
    compensation_timeout_seconds: float | None = Field(default=DEFAULT_STEP_TIMEOUT_SECONDS, gt=0)
    compensate_if_failed: bool = False

    def build(self) -> SagaStep:
        return SagaStep(
            name=self.name,
            action=self.action.build(),
            compensation=self.compensation.build() if self.compensation is not None else None,
            retry=self.retry.build(),
            timeout_seconds=self.timeout_seconds,
            compensation_retry=self.compensation_retry.build(),
            compensation_timeout_seconds=self.compensation_timeout_seconds,
            compensate_if_failed=self.compensate_if_failed,
        )


class _Saga(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_NAME_PATTERN)
    version: int = Field(default=1, ge=1)
    description: str = ""
    steps: list[_Step] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _unique_step_names(cls, steps: list[_Step]) -> list[_Step]:
        seen: set[str] = set()
        for step in steps:
            if step.name in seen:
                raise ValueError(f"duplicate step name {step.name!r}")
            seen.add(step.name)
        return steps

    def build(self) -> SagaDefinition:
        return SagaDefinition(
            name=self.name,
            steps=tuple(step.build() for step in self.steps),
            version=self.version,
            description=self.description,
        )


def parse_definition(data: Any, source: str = "<python>") -> SagaDefinition:
    """Validate a mapping (parsed YAML, or built in Python) into a `SagaDefinition`."""
    if not isinstance(data, Mapping):
        raise SagaDefinitionError(f"{source}: a saga definition must be a mapping, got {type(data).__name__}")
    try:
        return _Saga.model_validate(dict(data)).build()
    except ValidationError as error:
        problems = "; ".join(_describe(problem, data) for problem in error.errors())
        raise SagaDefinitionError(f"{source}: {problems}") from None


def load_definition_text(text: str, source: str = "<string>") -> SagaDefinition:
    """Parse and validate one YAML document."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SagaDefinitionError(f"{source}: invalid YAML: {error}") from None
    return parse_definition(data, source)


def load_definition_file(path: str | Path) -> SagaDefinition:
    """Load one YAML definition file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SagaDefinitionError(f"{path}: cannot read: {error.strerror or error}") from None
    return load_definition_text(text, str(path))


def load_definition_directory(directory: str | Path) -> dict[str, SagaDefinition]:
    """Load every `*.yaml` / `*.yml` file in `directory`, keyed by saga name (names must be unique)."""
    definitions: dict[str, SagaDefinition] = {}
    origins: dict[str, Path] = {}
    for path in sorted(Path(directory).iterdir()):
        if path.suffix not in (".yaml", ".yml") or not path.is_file():
            continue
        definition = load_definition_file(path)
        if definition.name in definitions:
            raise SagaDefinitionError(
                f"{path}: saga name {definition.name!r} is already defined in {origins[definition.name]}"
            )
        definitions[definition.name] = definition
        origins[definition.name] = path
    return definitions


def builtin_definition(name: str) -> SagaDefinition:
    """A saga definition shipped with Architect (e.g. `autopilot_run`)."""
    resource = resources.files(BUILTIN_PACKAGE).joinpath(f"{name}.yaml")
    if not resource.is_file():
        raise SagaDefinitionError(f"no built-in saga named {name!r}")
    return load_definition_text(resource.read_text(encoding="utf-8"), f"builtin/{name}.yaml")


def _describe(problem: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    location = tuple(problem["loc"])
    message = problem["msg"]
    if len(location) >= 2 and location[0] == "steps" and isinstance(location[1], int):
        index = location[1]
        step = f"step {index + 1}"
        steps = data.get("steps")
        if isinstance(steps, list) and index < len(steps) and isinstance(steps[index], Mapping):
            name = steps[index].get("name")
            if isinstance(name, str):
                step = f"step {index + 1} ({name!r})"
        field = ".".join(str(part) for part in location[2:])
        return f"{step}, field {field!r}: {message}" if field else f"{step}: {message}"
    field = ".".join(str(part) for part in location)
    return f"field {field!r}: {message}" if field else message
