import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.assigner.breaker import ARCHITECT_BREAKER, BreakerConfig, CircuitBreaker

T0 = 1000.0


def failures(breaker: CircuitBreaker, count: int, now: float = T0) -> CircuitBreaker:
    for _ in range(count):
        breaker = breaker.record_failure(now)
    return breaker


def opened(config: BreakerConfig = BreakerConfig(), now: float = T0) -> CircuitBreaker:
    breaker = failures(CircuitBreaker(config), config.failure_threshold, now)
    assert breaker.state == "open"
    return breaker


def half_open(config: BreakerConfig = BreakerConfig()) -> tuple[CircuitBreaker, float]:
    probe_time = T0 + config.open_timeout_s
    return opened(config).at(probe_time), probe_time


# Defaults


def test_defaults_are_3_failures_300_s_1_probe_2_successes():
    assert BreakerConfig() == BreakerConfig(
        failure_threshold=3, open_timeout_s=300.0, half_open_max_probes=1, success_threshold=2
    )


def test_architect_breaker_opens_after_2_failures_for_600_s():
    assert (ARCHITECT_BREAKER.failure_threshold, ARCHITECT_BREAKER.open_timeout_s) == (2, 600.0)
    assert failures(CircuitBreaker(ARCHITECT_BREAKER), 2).state == "open"


@pytest.mark.parametrize("field", ["failure_threshold", "half_open_max_probes", "success_threshold"])
def test_config_thresholds_must_be_at_least_one(field):
    with pytest.raises(ValueError, match=field):
        BreakerConfig(**{field: 0})


def test_config_timeout_must_not_be_negative():
    with pytest.raises(ValueError, match="open_timeout_s"):
        BreakerConfig(open_timeout_s=-1)


# Closed


def test_a_new_breaker_is_closed_and_lets_work_through():
    breaker = CircuitBreaker()
    assert breaker.state == "closed"
    assert breaker.allows(T0)


def test_failures_below_the_threshold_keep_it_closed():
    breaker = failures(CircuitBreaker(), 2)
    assert (breaker.state, breaker.consecutive_failures) == ("closed", 2)
    assert breaker.allows(T0)


def test_threshold_consecutive_failures_open_it():
    breaker = failures(CircuitBreaker(), 3, now=T0)
    assert (breaker.state, breaker.opened_at, breaker.consecutive_failures) == ("open", T0, 3)


def test_a_success_in_closed_resets_the_failure_count():
    breaker = failures(CircuitBreaker(), 2).record_success(T0)
    assert breaker.consecutive_failures == 0
    assert failures(breaker, 2).state == "closed"


def test_dispatch_in_closed_changes_nothing():
    assert CircuitBreaker().record_dispatch(T0) == CircuitBreaker()


# Open


def test_an_open_breaker_fails_fast_until_the_timeout():
    breaker = opened()
    assert not breaker.allows(T0)
    assert not breaker.allows(T0 + 299.9)
    assert breaker.state_at(T0 + 299.9) == "open"


def test_reopens_at_is_opened_at_plus_timeout():
    assert opened().reopens_at() == T0 + 300
    assert CircuitBreaker().reopens_at() is None


def test_results_arriving_while_open_are_ignored():
    breaker = opened()
    assert breaker.record_success(T0 + 10) == breaker
    assert breaker.record_failure(T0 + 10) == breaker


def test_late_failures_do_not_extend_the_open_timeout():
    assert opened().record_failure(T0 + 200).state_at(T0 + 300) == "half_open"


def test_dispatch_while_open_changes_nothing():
    breaker = opened()
    assert breaker.record_dispatch(T0 + 1) == breaker


# Half-open


def test_after_the_timeout_it_reads_as_half_open_and_allows_a_probe():
    breaker = opened()
    assert breaker.state_at(T0 + 300) == "half_open"
    assert breaker.allows(T0 + 300)


def test_at_materialises_the_half_open_state():
    breaker, _ = half_open()
    assert (breaker.state, breaker.probes_in_flight, breaker.consecutive_successes) == ("half_open", 0, 0)


def test_half_open_lets_at_most_max_probes_through():
    breaker, now = half_open()
    probing = breaker.record_dispatch(now)
    assert probing.probes_in_flight == 1
    assert not probing.allows(now)
    assert probing.record_dispatch(now) == probing


def test_more_probes_can_be_configured():
    breaker, now = half_open(BreakerConfig(half_open_max_probes=2))
    probing = breaker.record_dispatch(now).record_dispatch(now)
    assert probing.probes_in_flight == 2
    assert not probing.allows(now)


def test_dispatch_on_an_elapsed_open_breaker_takes_the_first_probe_slot():
    probing = opened().record_dispatch(T0 + 300)
    assert (probing.state, probing.probes_in_flight) == ("half_open", 1)


def test_one_success_is_not_enough_to_close_but_frees_the_probe_slot():
    breaker, now = half_open()
    after = breaker.record_dispatch(now).record_success(now + 1)
    assert (after.state, after.consecutive_successes, after.probes_in_flight) == ("half_open", 1, 0)
    assert after.allows(now + 1)


def test_success_threshold_consecutive_successes_close_it():
    breaker, now = half_open()
    closed = breaker.record_dispatch(now).record_success(now).record_dispatch(now).record_success(now)
    assert closed == CircuitBreaker(BreakerConfig())


def test_a_higher_success_threshold_needs_more_successes():
    breaker, now = half_open(BreakerConfig(success_threshold=3))
    for _ in range(2):
        breaker = breaker.record_dispatch(now).record_success(now)
    assert breaker.state == "half_open"
    assert breaker.record_dispatch(now).record_success(now).state == "closed"


def test_a_failure_in_half_open_reopens_with_a_fresh_timeout():
    breaker, now = half_open()
    reopened = breaker.record_dispatch(now).record_failure(now + 5)
    assert (reopened.state, reopened.opened_at) == ("open", now + 5)
    assert not reopened.allows(now + 5 + 299)
    assert reopened.state_at(now + 5 + 300) == "half_open"


def test_a_failure_after_a_probe_success_still_reopens():
    breaker, now = half_open()
    reopened = breaker.record_dispatch(now).record_success(now).record_dispatch(now).record_failure(now)
    assert reopened.state == "open"
    assert reopened.consecutive_successes == 0


def test_a_failure_on_an_elapsed_open_breaker_counts_as_a_half_open_failure():
    reopened = opened().record_failure(T0 + 400)
    assert (reopened.state, reopened.opened_at) == ("open", T0 + 400)


def test_a_closed_breaker_after_recovery_needs_the_full_threshold_to_open_again():
    breaker, now = half_open()
    closed = breaker.record_success(now).record_success(now)
    assert failures(closed, 2, now).state == "closed"
    assert failures(closed, 3, now).state == "open"


# Serialisation and laws


def test_round_trips_through_json_in_every_state():
    breaker, now = half_open()
    for state in (CircuitBreaker(ARCHITECT_BREAKER), opened(), breaker.record_dispatch(now)):
        assert CircuitBreaker.from_dict(json.loads(json.dumps(state.to_dict()))) == state


outcomes = st.lists(
    st.tuples(st.sampled_from(["dispatch", "success", "failure"]), st.floats(min_value=0, max_value=400)),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(outcomes, st.sampled_from([BreakerConfig(), ARCHITECT_BREAKER, BreakerConfig(3, 60, 2, 3)]))
def test_invariants_hold_after_any_sequence_of_outcomes(sequence, config):
    breaker, now = CircuitBreaker(config), T0
    for kind, elapsed in sequence:
        now += elapsed
        before = breaker.state_at(now)
        breaker = getattr(breaker, f"record_{kind}")(now)
        if before == "open":
            assert breaker.state == "open"
        if breaker.state == "closed":
            assert breaker.consecutive_failures < config.failure_threshold
        if breaker.state == "open":
            assert breaker.opened_at is not None and breaker.opened_at <= now
            assert not breaker.allows(now) or config.open_timeout_s == 0
        assert 0 <= breaker.probes_in_flight <= config.half_open_max_probes
        assert CircuitBreaker.from_dict(json.loads(json.dumps(breaker.to_dict()))) == breaker
