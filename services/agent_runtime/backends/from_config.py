"""Build an agent's backend from its configuration."""

from __future__ import annotations

from services.agent_runtime.backends.callable_backend import CallableBackend, CallableBackendConfig
from services.agent_runtime.backends.contract import Backend
from services.agent_runtime.backends.openai_backend import OpenAIBackend, OpenAIBackendConfig
from services.agent_runtime.backends.scripted_backend import ScriptedBackend, ScriptedBackendConfig
from services.agent_runtime.backends.subprocess_backend import SubprocessBackend, SubprocessBackendConfig
from services.agent_runtime.fleet_config import AgentConfig, FleetConfigError


def build_backend(agent: AgentConfig) -> Backend:
    """The backend ``agent.backend`` describes; ``FleetConfigError`` names the agent when it cannot be built."""
    config = agent.backend
    try:
        if isinstance(config, ScriptedBackendConfig):
            return ScriptedBackend(config, agent_id=agent.id)
        if isinstance(config, CallableBackendConfig):
            return CallableBackend(config)
        if isinstance(config, SubprocessBackendConfig):
            return SubprocessBackend(config)
        if isinstance(config, OpenAIBackendConfig):
            return OpenAIBackend(config, model=agent.model)
    except ValueError as exc:
        raise FleetConfigError([f"agent '{agent.id}': backend: {exc}"]) from None
    raise FleetConfigError([f"agent '{agent.id}': backend: unsupported kind {type(config).__name__}"])
