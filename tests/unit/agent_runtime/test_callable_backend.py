"""The Python callable backend: `module:function`, called with the request and the configured options."""

import pytest

from services.agent_runtime.backends.callable_backend import (
    CallableBackend,
    CallableBackendConfig,
    resolve_target,
)
from services.agent_runtime.backends.contract import BackendFailure, BackendResult, TaskRequest
from tests.unit.agent_runtime.requests import request

HERE = "tests.unit.agent_runtime.test_callable_backend"


def echo(req: TaskRequest, *, greeting: str = "hi") -> dict:
    return {"greeting": greeting, "operator": req.operator, "tokens_used": 42}


def typed(req: TaskRequest) -> BackendResult:
    return BackendResult({"task": req.task_id}, 7)


def refuses(req: TaskRequest) -> dict:
    raise BackendFailure("auth", "no credentials")


def text(req: TaskRequest) -> str:
    return "not an object"


def backend(target: str, **options) -> CallableBackend:
    return CallableBackend(CallableBackendConfig(target=f"{HERE}:{target}", options=options))


def test_a_reply_dict_is_the_output_and_its_tokens_used_the_usage():
    result = backend("echo").execute(request())
    assert result == BackendResult({"greeting": "hi", "operator": "code"}, 42)


def test_options_are_passed_as_keyword_arguments():
    assert backend("echo", greeting="hello").execute(request()).output["greeting"] == "hello"


def test_a_backend_result_is_returned_as_it_is():
    assert backend("typed").execute(request()) == BackendResult({"task": "t1"}, 7)


def test_a_backend_failure_keeps_its_error_class():
    with pytest.raises(BackendFailure) as failure:
        backend("refuses").execute(request())
    assert failure.value.error_class == "auth"


def test_a_reply_that_is_not_an_object_is_invalid():
    with pytest.raises(BackendFailure) as failure:
        backend("text").execute(request())
    assert failure.value.error_class == "invalid"


def test_dotted_attribute_paths_resolve():
    assert resolve_target("os.path:join") is __import__("os").path.join


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_such_module_xyz:f", "cannot import module 'no_such_module_xyz'"),
        (f"{HERE}:missing", "has no attribute 'missing'"),
        (f"{HERE}:HERE", "is not callable"),
    ],
)
def test_an_unresolvable_target_is_refused_with_the_reason(target, message):
    with pytest.raises(ValueError, match=message):
        resolve_target(target)


def test_the_target_must_look_like_module_colon_function():
    with pytest.raises(ValueError, match="target"):
        CallableBackendConfig(target="just_a_name")
