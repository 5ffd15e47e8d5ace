import pytest

from services.orchestrator.tier_timeouts import TierTimeouts


def test_defaults_are_30_min_for_workers_60_for_managers_and_none_for_approvals():
    timeouts = TierTimeouts()
    assert timeouts.for_tier("worker") == 1800
    assert timeouts.for_tier("manager") == 3600
    assert timeouts.for_tier("approval") is None


def test_overrides_replace_only_the_named_tiers():
    timeouts = TierTimeouts().with_overrides({"worker": 60})
    assert (timeouts.worker_s, timeouts.manager_s, timeouts.approval_s) == (60, 3600, None)


def test_an_override_can_give_approvals_a_deadline():
    assert TierTimeouts().with_overrides({"approval": 86400}).for_tier("approval") == 86400


def test_unknown_tier_override_is_refused():
    with pytest.raises(ValueError, match="unknown tier"):
        TierTimeouts().with_overrides({"intern": 5})


def test_non_positive_override_is_refused():
    with pytest.raises(ValueError, match="positive"):
        TierTimeouts().with_overrides({"worker": 0})


def test_unknown_tier_lookup_is_refused():
    with pytest.raises(ValueError, match="unknown tier"):
        TierTimeouts().for_tier("intern")  # type: ignore[arg-type]


def test_round_trips_through_dict():
    timeouts = TierTimeouts(worker_s=10, manager_s=None, approval_s=5)
    assert TierTimeouts.from_dict(timeouts.to_dict()) == timeouts
