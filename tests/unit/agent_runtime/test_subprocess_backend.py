"""The subprocess backend: task JSON on stdin, JSON on stdout; exit status and timeouts map to error classes."""

import sys
import time

import pytest

from services.agent_runtime.backends.contract import BackendFailure, BackendResult
from services.agent_runtime.backends.subprocess_backend import SubprocessBackend, SubprocessBackendConfig
from tests.unit.agent_runtime.requests import request

ECHO = (
    "import json, sys\n"
    "task = json.load(sys.stdin)\n"
    "print(json.dumps({'seen': task['operator'], 'inputs': task['inputs'], 'tokens_used': 12}))\n"
)


def run(script: str, **options) -> BackendResult:
    config = SubprocessBackendConfig(command=[sys.executable, "-c", script], **options)
    return SubprocessBackend(config).execute(request(timeout_s=10.0))


def failure_of(script: str, timeout_s: float = 10.0, **options) -> BackendFailure:
    config = SubprocessBackendConfig(command=[sys.executable, "-c", script], **options)
    with pytest.raises(BackendFailure) as failure:
        SubprocessBackend(config).execute(request(timeout_s=timeout_s))
    return failure.value


def test_the_command_reads_the_task_and_its_json_reply_is_the_output_with_usage():
    assert run(ECHO) == BackendResult({"seen": "code", "inputs": {"files": ["api.py"]}}, 12)


def test_a_non_zero_exit_is_a_crash_with_the_end_of_stderr():
    failure = failure_of("import sys; sys.stderr.write('boom'); sys.exit(3)")
    assert failure.error_class == "crash"
    assert "status 3" in failure.message and "boom" in failure.message


def test_exit_codes_can_map_to_other_error_classes():
    assert failure_of("import sys; sys.exit(75)", exit_codes={75: "rate_limit"}).error_class == "rate_limit"


def test_running_past_the_timeout_kills_the_command_and_fails_with_timeout():
    started = time.monotonic()
    failure = failure_of("import time; time.sleep(30)", timeout_s=0.5)
    assert failure.error_class == "timeout"
    assert time.monotonic() - started < 5


def test_a_reply_that_is_not_json_is_invalid():
    assert failure_of("print('done!')").error_class == "invalid"


def test_a_command_that_cannot_start_is_a_crash():
    config = SubprocessBackendConfig(command=["/no/such/agent-cli"])
    with pytest.raises(BackendFailure) as failure:
        SubprocessBackend(config).execute(request())
    assert failure.value.error_class == "crash"


def test_a_command_string_is_split_like_a_shell_would():
    assert SubprocessBackendConfig(command="my-agent --model 'big one'").command == ["my-agent", "--model", "big one"]


def test_configured_environment_variables_reach_the_command():
    script = "import json, os, sys; sys.stdin.read(); print(json.dumps({'key': os.environ['AGENT_KEY']}))"
    assert run(script, env={"AGENT_KEY": "k1"}).output == {"key": "k1"}
