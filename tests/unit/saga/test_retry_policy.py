import pytest

from services.saga_coordinator.retry_policy import RetryPolicy


def test_delays_double_from_the_base_delay():
    policy = RetryPolicy(base_delay_seconds=1.0)

    assert [policy.delay(k) for k in (1, 2, 3)] == [1.0, 2.0, 4.0]


def test_delays_are_capped_at_the_maximum():
    assert RetryPolicy(base_delay_seconds=10, max_delay_seconds=25).delay(5) == 25


def test_jitter_adds_up_to_the_jitter_ratio():
    policy = RetryPolicy(base_delay_seconds=2.0, jitter_ratio=0.1)

    assert policy.delay(1, jitter=0.5) == pytest.approx(2.1)


def test_jitter_must_come_from_the_unit_interval():
    with pytest.raises(ValueError):
        RetryPolicy().delay(1, jitter=1.0)


def test_at_least_one_attempt_is_required():
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


def test_policy_survives_a_dict_round_trip():
    policy = RetryPolicy(max_attempts=5, base_delay_seconds=10, jitter_ratio=0.0)

    assert RetryPolicy.from_dict(policy.to_dict()) == policy
