"""The scripted backend: seeded, configurable latency and failures, drift scenarios, plans and findings."""

import pytest

from services.agent_runtime.backends.contract import BackendFailure
from services.agent_runtime.backends.scripted_backend import ScriptedBackend, ScriptedBackendConfig
from tests.unit.agent_runtime.requests import request


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def backend(**options) -> tuple[ScriptedBackend, Sleeps]:
    sleeps = Sleeps()
    return ScriptedBackend(ScriptedBackendConfig(**options), agent_id="coder", sleep=sleeps), sleeps


def outcome(b: ScriptedBackend, **overrides) -> str:
    try:
        b.execute(request(**overrides))
    except BackendFailure as failure:
        return failure.error_class
    return "ok"


def test_a_task_takes_the_configured_latency_and_reports_the_configured_tokens():
    b, sleeps = backend(latency_s=0.4, tokens_per_task=321)
    result = b.execute(request())
    assert sleeps == [0.4]
    assert result.tokens_used == 321
    assert result.output["summary"] == "code done by coder"


def test_a_zero_latency_task_does_not_sleep_at_all():
    b, sleeps = backend(latency_s=0.0)
    assert b.execute(request()).output["summary"] == "code done by coder"
    assert sleeps == []


def test_jitter_keeps_latency_within_its_range():
    b, sleeps = backend(latency_s=1.0, latency_jitter_s=0.5)
    for n in range(20):
        b.execute(request(task_id=f"t{n}"))
    assert all(1.0 <= s <= 1.5 for s in sleeps)
    assert len(set(sleeps)) > 1


def test_the_same_assignment_behaves_the_same_in_every_instance():
    options = {"latency_s": 0.1, "latency_jitter_s": 1.0, "failure_rate": 0.5, "seed": 7}
    first, first_sleeps = backend(**options)
    second, second_sleeps = backend(**options)
    tasks = [f"t{n}" for n in range(30)]
    in_order = [outcome(first, task_id=t) for t in tasks]
    reversed_order = [outcome(second, task_id=t) for t in reversed(tasks)]
    assert in_order == reversed_order[::-1]
    assert first_sleeps == second_sleeps[::-1]


def test_the_failure_rate_is_roughly_respected_and_failures_have_the_configured_class():
    b, _ = backend(latency_s=0, failure_rate=0.3, failure_class="rate_limit", seed=3)
    outcomes = [outcome(b, task_id=f"t{n}") for n in range(400)]
    assert set(outcomes) == {"ok", "rate_limit"}
    assert 0.2 < outcomes.count("rate_limit") / len(outcomes) < 0.4


def test_a_retry_is_a_new_draw():
    b, _ = backend(latency_s=0, failure_rate=0.5, seed=1)
    outcomes = {outcome(b, task_id="t1", attempt=attempt) for attempt in range(1, 20)}
    assert outcomes == {"ok", "crash"}


def test_latency_beyond_the_timeout_waits_the_timeout_and_fails_with_timeout():
    b, sleeps = backend(latency_s=10.0)
    with pytest.raises(BackendFailure) as failure:
        b.execute(request(timeout_s=2.0))
    assert failure.value.error_class == "timeout"
    assert sleeps == [2.0]


def test_decompose_answers_with_the_configured_plan():
    steps = [{"id": "a", "operator": "design"}, {"id": "b", "operator": "code", "depends_on": ["a"]}]
    b, _ = backend(latency_s=0, plan={"steps": steps})
    result = b.execute(request(operator="decompose", capability="planning"))
    assert result.output == {
        "plan": {
            "steps": [
                {"id": "a", "operator": "design", "depends_on": []},
                {"id": "b", "operator": "code", "depends_on": ["a"]},
            ],
            "rationale": "",
        }
    }


def test_plan_steps_keep_extra_fields_such_as_inputs():
    step = {"id": "a", "operator": "code", "inputs": {"files": ["x.py"]}, "requires_approval": True}
    b, _ = backend(latency_s=0, plan={"steps": [step]})
    [written] = b.execute(request(operator="decompose")).output["plan"]["steps"]
    assert written["inputs"] == {"files": ["x.py"]} and written["requires_approval"] is True


def test_decompose_without_a_plan_is_invalid():
    b, _ = backend(latency_s=0)
    with pytest.raises(BackendFailure) as failure:
        b.execute(request(operator="decompose"))
    assert failure.value.error_class == "invalid"


def test_configured_findings_are_shared_in_every_output():
    b, _ = backend(latency_s=0, findings=[{"topic": "root_cause", "content": {"file": "cache.py"}}])
    assert b.execute(request()).output["findings"] == [{"topic": "root_cause", "content": {"file": "cache.py"}}]


def test_the_output_says_how_many_peer_findings_it_was_given():
    b, _ = backend(latency_s=0)
    given = ({"topic": "x", "content": {}}, {"topic": "y", "content": {}})
    assert b.execute(request(findings=given)).output["peer_findings_seen"] == 2


def test_a_drift_scenario_drifts_after_its_onset():
    b, _ = backend(latency_s=0, drift={"kind": "semantic", "onset": 3, "ramp": 2})
    drifts = [b.execute(request(task_id=f"t{n}")).output["effective_drift"] for n in range(6)]
    assert drifts == [0.0, 0.0, 0.0, 0.5, 1.0, 1.0]


def test_drift_outputs_carry_text_tools_and_their_token_count():
    b, _ = backend(latency_s=0, drift={"kind": "tool_avoidance", "onset": 100})
    result = b.execute(request())
    assert result.output["tools_used"] == ["read_file", "run_tests", "search_code"]
    assert result.tokens_used == int(len(result.output["text"].split()) * 1.3)


def test_anchors_in_the_assignment_pull_drift_back():
    anchored, _ = backend(latency_s=0, drift={"kind": "format", "onset": 0, "ramp": 1})
    plain, _ = backend(latency_s=0, drift={"kind": "format", "onset": 0, "ramp": 1})
    assert plain.execute(request()).output["effective_drift"] == 1.0
    assert anchored.execute(request(anchors=("a",) * 4)).output["effective_drift"] == pytest.approx(0.4)


def test_expected_latency_is_the_mean_latency():
    b, _ = backend(latency_s=1.0, latency_jitter_s=0.5)
    assert b.expected_latency_s() == 1.25
