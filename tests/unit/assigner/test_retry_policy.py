import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.assigner.retry_policy import (
    ERROR_CLASSES,
    Backoff,
    RetryPolicy,
    adaptive_policy,
    exponential_policy,
    jittered_policy,
    next_retry,
)


def delays(policy: RetryPolicy, error_class: str, rand: float = 0.0) -> list[float]:
    result = []
    for attempt in range(1, 20):
        decision = next_retry(policy, error_class, attempt, rand)
        if not decision.retry:
            return result
        result.append(decision.delay_s)
    raise AssertionError("never stopped retrying")


def test_exponential_retries_three_times_after_1_2_4_seconds():
    assert delays(exponential_policy(), "crash") == [1.0, 2.0, 4.0]


def test_exponential_treats_every_error_class_alike():
    assert {tuple(delays(exponential_policy(), c)) for c in ERROR_CLASSES} == {(1.0, 2.0, 4.0)}


def test_exponential_needs_no_randomness():
    assert next_retry(exponential_policy(), "timeout", 1).delay_s == 1.0


def test_exhausted_retries_are_final_with_a_reason():
    decision = next_retry(exponential_policy(), "crash", 4)
    assert (decision.retry, decision.delay_s) == (False, 0.0)
    assert decision.reason == "crash: all 3 retries used"


def test_a_retry_explains_itself():
    assert next_retry(exponential_policy(), "timeout", 2).reason == "timeout: retry 2 of 3 after 2.000s"


def test_jitter_adds_up_to_ten_percent_of_the_delay():
    policy = jittered_policy()
    assert next_retry(policy, "crash", 3, 0.0).delay_s == 4.0
    assert next_retry(policy, "crash", 3, 0.5).delay_s == pytest.approx(4.2)
    assert next_retry(policy, "crash", 3, 0.999).delay_s == pytest.approx(4.3996)


def test_jitter_can_be_drawn_from_a_seeded_random():
    first = next_retry(jittered_policy(), "crash", 1, random.Random(42)).delay_s
    second = next_retry(jittered_policy(), "crash", 1, random.Random(42)).delay_s
    assert first == second
    assert 1.0 <= first < 1.1


def test_jitter_without_randomness_is_refused():
    with pytest.raises(ValueError, match="pass rand"):
        next_retry(jittered_policy(), "crash", 1)


def test_randomness_outside_unit_interval_is_refused():
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        next_retry(jittered_policy(), "crash", 1, 1.0)


def test_attempts_start_at_one():
    with pytest.raises(ValueError, match="start at 1"):
        next_retry(exponential_policy(), "crash", 0)


def test_adaptive_timeouts_retry_three_times_from_two_seconds():
    assert delays(adaptive_policy(), "timeout") == [2.0, 4.0, 8.0]


def test_adaptive_rate_limits_retry_five_times_from_ten_seconds():
    assert delays(adaptive_policy(), "rate_limit") == [10.0, 20.0, 40.0, 80.0, 160.0]


def test_adaptive_auth_errors_are_never_retried():
    decision = next_retry(adaptive_policy(), "auth", 1, 0.0)
    assert not decision.retry
    assert decision.reason == "auth: not retryable under the adaptive policy"


def test_adaptive_crashes_retry_twice_from_five_seconds():
    assert delays(adaptive_policy(), "crash") == [5.0, 10.0]


def test_adaptive_invalid_output_is_retried_once():
    assert delays(adaptive_policy(), "invalid") == [1.0]


def test_adaptive_exhausted_budget_is_not_retried():
    assert delays(adaptive_policy(), "budget") == []


def test_adaptive_unknown_error_class_uses_the_exponential_default():
    assert delays(adaptive_policy(), "cosmic_ray") == [1.0, 2.0, 4.0]


def test_adaptive_jitter_applies_per_class():
    assert next_retry(adaptive_policy(), "rate_limit", 1, 0.5).delay_s == pytest.approx(10.5)


def test_adaptive_classes_can_be_overridden():
    assert delays(adaptive_policy(overrides={"auth": Backoff(1, 30.0)}), "auth") == [30.0]


def test_invalid_backoffs_are_refused():
    with pytest.raises(ValueError):
        Backoff(-1)
    with pytest.raises(ValueError):
        Backoff(1, factor=0.5)


def test_policies_round_trip_through_json():
    for policy in (exponential_policy(), jittered_policy(), adaptive_policy()):
        assert RetryPolicy.from_dict(json.loads(json.dumps(policy.to_dict()))) == policy


@settings(max_examples=150, deadline=None)
@given(
    policy=st.sampled_from([exponential_policy(), jittered_policy(), adaptive_policy()]),
    error_class=st.sampled_from([*ERROR_CLASSES, "other"]),
    attempt=st.integers(min_value=1, max_value=10),
    rand=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
def test_delays_are_the_backoff_plus_bounded_jitter_and_grow_with_attempts(policy, error_class, attempt, rand):
    backoff = policy.backoff_for(error_class)
    decision = next_retry(policy, error_class, attempt, rand)
    assert decision.retry == (attempt <= backoff.max_retries)
    if decision.retry:
        base = backoff.delay_s(attempt)
        assert base <= decision.delay_s <= base * (1 + policy.jitter_ratio)
        following = next_retry(policy, error_class, attempt + 1, rand)
        assert not following.retry or following.delay_s >= decision.delay_s
