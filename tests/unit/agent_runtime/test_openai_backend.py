"""The OpenAI-compatible backend against a real HTTP server on 127.0.0.1: request shape, output, error classes."""

import json
import time
from collections.abc import Iterator

import pytest

from services.agent_runtime.backends.contract import BackendFailure, BackendResult
from services.agent_runtime.backends.openai_backend import OpenAIBackend, OpenAIBackendConfig
from tests.unit.agent_runtime.chat_server import ChatServer, Reply, chat_server, completion
from tests.unit.agent_runtime.requests import request


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with chat_server() as running:
        yield running


def backend(server: ChatServer, **options) -> OpenAIBackend:
    return OpenAIBackend(OpenAIBackendConfig(base_url=server.url, **options), model="tiny")


def failure_class(server: ChatServer, reply: Reply, timeout_s: float = 5.0) -> str:
    server.reply = reply
    with pytest.raises(BackendFailure) as failure:
        backend(server).execute(request(timeout_s=timeout_s))
    return failure.value.error_class


def test_a_json_object_answer_is_the_output_and_total_tokens_the_usage(server):
    server.reply = Reply(body=completion('{"patch": "diff --git a b"}', total_tokens=57))
    assert backend(server).execute(request()) == BackendResult({"patch": "diff --git a b"}, 57)


def test_a_fenced_json_answer_is_unwrapped(server):
    server.reply = Reply(body=completion('```json\n{"plan": {"steps": []}}\n```'))
    assert backend(server).execute(request()).output == {"plan": {"steps": []}}


def test_a_prose_answer_is_kept_as_text(server):
    server.reply = Reply(body=completion("The bug is in the cache."))
    assert backend(server).execute(request()).output == {"text": "The bug is in the cache."}


def test_the_request_is_a_chat_completion_with_the_task_as_the_user_message(server):
    backend(server, temperature=0.2).execute(request())
    [sent] = server.requests
    assert sent["path"] == "/v1/chat/completions"
    body = sent["body"]
    assert body["model"] == "tiny" and body["temperature"] == 0.2
    assert body["messages"][0]["role"] == "system" and "worker" in body["messages"][0]["content"]
    assert json.loads(body["messages"][-1]["content"]) == {
        "operator": "code",
        "capability": "code",
        "inputs": {"files": ["api.py"]},
    }


def test_anchors_and_peer_findings_are_given_as_context(server):
    findings = ({"agent_id": "a2", "topic": "root_cause", "content": {"file": "cache.py"}},)
    backend(server).execute(request(anchors=("earlier answer",), findings=findings))
    system_text = " ".join(m["content"] for m in server.requests[0]["body"]["messages"] if m["role"] == "system")
    assert "earlier answer" in system_text and "cache.py" in system_text


def test_max_tokens_is_capped_by_what_is_left_of_the_budget(server):
    backend(server, max_tokens=4000).execute(request(max_tokens=250))
    backend(server).execute(request())
    assert server.requests[0]["body"]["max_tokens"] == 250
    assert "max_tokens" not in server.requests[1]["body"]


def test_the_api_key_comes_from_the_named_environment_variable(server, monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", "sk-test")
    backend(server, api_key_env="TEST_LLM_KEY").execute(request())
    assert server.requests[0]["headers"]["Authorization"] == "Bearer sk-test"


def test_a_missing_api_key_variable_is_a_configuration_error(server, monkeypatch):
    monkeypatch.delenv("TEST_LLM_KEY", raising=False)
    with pytest.raises(ValueError, match="TEST_LLM_KEY"):
        backend(server, api_key_env="TEST_LLM_KEY")


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(429, "rate_limit"), (401, "auth"), (403, "auth"), (500, "crash"), (503, "crash"), (400, "invalid")],
)
def test_http_errors_map_to_error_classes(server, status, error_class):
    assert failure_class(server, Reply(status=status, body={"error": {"message": "no"}})) == error_class


def test_a_slow_server_fails_with_timeout_after_the_task_timeout(server):
    started = time.monotonic()
    assert failure_class(server, Reply(delay_s=3.0), timeout_s=0.5) == "timeout"
    assert time.monotonic() - started < 2.5


def test_an_unreachable_server_is_a_crash():
    config = OpenAIBackendConfig(base_url="http://127.0.0.1:9/v1", connect_timeout_s=1.0)
    with pytest.raises(BackendFailure) as failure:
        OpenAIBackend(config, model="tiny").execute(request())
    assert failure.value.error_class == "crash"


def test_a_reply_that_is_not_a_completion_is_invalid(server):
    assert failure_class(server, Reply(body={"unexpected": True})) == "invalid"


def test_a_model_is_required():
    with pytest.raises(ValueError, match="model"):
        OpenAIBackend(OpenAIBackendConfig(base_url="http://127.0.0.1:9/v1"), model="")
