"""A backend that calls a Python function named ``module:function`` with the task request."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.agent_runtime.backends.contract import BackendResult, TaskRequest

TaskFunction = Callable[..., Any]


class CallableBackendConfig(BaseModel):
    """Options of the Python callable backend; ``options`` are passed to the function as keyword arguments."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["callable"] = "callable"
    target: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
    options: dict[str, Any] = Field(default_factory=dict)
    expected_latency_s: float | None = Field(default=None, ge=0)


def resolve_target(target: str) -> TaskFunction:
    """The callable ``module:attribute.path`` names; ``ValueError`` says what could not be found."""
    module_name, _, attribute_path = target.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import module '{module_name}': {exc}") from None
    for part in attribute_path.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ValueError(f"'{module_name}' has no attribute '{attribute_path}'") from None
    if not callable(found):
        raise ValueError(f"'{target}' is not callable")
    return found


class CallableBackend:
    """Calls ``function(request, **options)``; it returns a reply dict or a ``BackendResult``.

    A reply dict's ``tokens_used`` is its usage and the rest its output. The function raises
    ``BackendFailure`` to report an error class; any other exception counts as a crash.
    """

    def __init__(self, config: CallableBackendConfig) -> None:
        self._config = config
        self._function = resolve_target(config.target)

    def expected_latency_s(self) -> float | None:
        return self._config.expected_latency_s

    def execute(self, request: TaskRequest) -> BackendResult:
        reply = self._function(request, **self._config.options)
        if isinstance(reply, BackendResult):
            return reply
        return BackendResult.from_reply(reply)

    def close(self) -> None:
        return None
