"""A backend that asks an OpenAI-compatible chat-completions endpoint (a hosted API or a local model server).

Errors map to the classes the assigner retries by: 429 -> rate_limit, 401/403 -> auth, a timeout -> timeout,
5xx or an unreachable server -> crash, any other 4xx or a reply without a message -> invalid. A reply whose
content is a JSON object becomes the output as it is (so a planner can answer ``{"plan": ...}``); any other
content is kept as ``{"text": ...}``.
"""

from __future__ import annotations

import json
import os
import ssl
from functools import cache
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from services.agent_runtime.backends.contract import BackendFailure, BackendResult, TaskRequest

DEFAULT_SYSTEM_PROMPT = (
    "You are an agent of the Architect control plane, with the role {role}. You receive one task as JSON "
    "(operator, capability, inputs). Reply with exactly one JSON object: the task's output. To share something "
    'peers on the same goal should know, add "findings": [{{"topic": "...", "content": {{...}}}}]. For the '
    'operator "decompose" reply {{"plan": {{"steps": [{{"id": "...", "operator": "...", "depends_on": []}}]}}}}.'
)
ERROR_BODY_CHARS = 500


class OpenAIBackendConfig(BaseModel):
    """Options of the OpenAI-compatible backend. The API key is read from the environment, never from the file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["openai"] = "openai"
    base_url: str = Field(pattern=r"^https?://")
    model: str | None = None
    api_key_env: str | None = None
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    expected_latency_s: float | None = Field(default=None, ge=0)
    headers: dict[str, str] = Field(default_factory=dict)


class OpenAIBackend:
    """One HTTP client per agent; every request has explicit connect and read timeouts."""

    def __init__(
        self, config: OpenAIBackendConfig, *, model: str, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._config = config
        self._model = config.model or model
        if not self._model:
            raise ValueError("no model: set the agent's model or the backend's model")
        headers = dict(config.headers)
        if config.api_key_env:
            key = os.environ.get(config.api_key_env)
            if not key:
                raise ValueError(f"environment variable {config.api_key_env} (api_key_env) is not set")
            headers["Authorization"] = f"Bearer {key}"
        self._client = httpx.Client(
            base_url=config.base_url, headers=headers, transport=transport, verify=_shared_tls_context()
        )

    def expected_latency_s(self) -> float | None:
        return self._config.expected_latency_s

    def execute(self, request: TaskRequest) -> BackendResult:
        timeout = httpx.Timeout(request.timeout_s, connect=min(self._config.connect_timeout_s, request.timeout_s))
        try:
            response = self._client.post("chat/completions", json=self._body(request), timeout=timeout)
        except httpx.TimeoutException:
            raise BackendFailure(
                "timeout", f"no answer from {self._config.base_url} within {request.timeout_s}s"
            ) from None
        except httpx.HTTPError as exc:
            raise BackendFailure("crash", f"cannot reach {self._config.base_url}: {exc}") from None
        _raise_for_status(response)
        return _result(response)

    def close(self) -> None:
        self._client.close()

    def _body(self, request: TaskRequest) -> dict[str, Any]:
        config = self._config
        messages = [{"role": "system", "content": config.system_prompt.format(role=request.role)}]
        if request.anchors:
            examples = "\n---\n".join(request.anchors)
            messages.append({"role": "system", "content": f"Examples of your earlier, expected work:\n{examples}"})
        if request.findings:
            shared = json.dumps(list(request.findings))
            messages.append({"role": "system", "content": f"Findings your peers shared on this goal: {shared}"})
        task = {"operator": request.operator, "capability": request.capability, "inputs": request.inputs}
        messages.append({"role": "user", "content": json.dumps(task)})
        body: dict[str, Any] = {"model": self._model, "messages": messages}
        if config.temperature is not None:
            body["temperature"] = config.temperature
        limits = [limit for limit in (config.max_tokens, request.max_tokens) if limit is not None]
        if limits:
            body["max_tokens"] = max(1, min(limits))
        return body


@cache
def _shared_tls_context() -> ssl.SSLContext:
    # Loading the CA bundle takes a fifth of a second; a fleet of HTTP agents shares one context.
    return httpx.create_ssl_context()


def _raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    detail = f"HTTP {status}: {response.text[:ERROR_BODY_CHARS]}"
    if status == 429:
        raise BackendFailure("rate_limit", detail)
    if status in (401, 403):
        raise BackendFailure("auth", detail)
    if status >= 500:
        raise BackendFailure("crash", detail)
    raise BackendFailure("invalid", detail)


def _result(response: httpx.Response) -> BackendResult:
    try:
        data = response.json()
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise BackendFailure("invalid", f"not a chat completion: {response.text[:ERROR_BODY_CHARS]}") from None
    if not isinstance(content, str):
        raise BackendFailure("invalid", "the completion has no text content")
    usage = data.get("usage") or {}
    tokens = usage.get("total_tokens", 0) if isinstance(usage, dict) else 0
    return BackendResult(_output(content), tokens if isinstance(tokens, int) and tokens >= 0 else 0)


def _output(content: str) -> dict[str, Any]:
    text = content.strip()
    if text.startswith("```"):
        # Models often fence JSON in a markdown code block.
        text = text.strip("`").removeprefix("json").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        return {"text": content}
    return parsed if isinstance(parsed, dict) else {"text": content}
