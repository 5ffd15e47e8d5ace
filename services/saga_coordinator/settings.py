"""Saga coordinator knobs (environment variables prefixed ARCHITECT_SAGA_)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.saga_coordinator.definitions import (
    BUILTIN_PACKAGE,
    SagaDefinitionError,
    builtin_definition,
    load_definition_directory,
)
from services.saga_coordinator.saga import SagaDefinition


class SagaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARCHITECT_SAGA_", extra="ignore")

    definitions_dir: Path | None = None
    """YAML saga definitions loaded beside the built-in ones (a name may not be defined twice)."""

    def definitions(self) -> dict[str, SagaDefinition]:
        """The built-in definitions and those of ``definitions_dir``, by name."""
        found = {name: builtin_definition(name) for name in builtin_names()}
        if self.definitions_dir is not None:
            for name, definition in load_definition_directory(self.definitions_dir).items():
                if name in found:
                    raise SagaDefinitionError(f"{self.definitions_dir}: saga {name!r} is already a built-in")
                found[name] = definition
        return found


def builtin_names() -> list[str]:
    """Names of the saga definitions shipped with Architect."""
    files = resources.files(BUILTIN_PACKAGE).iterdir()
    return sorted(f.name.removesuffix(".yaml") for f in files if f.name.endswith(".yaml"))
