import json

from services.assigner.breaker import ARCHITECT_BREAKER, BreakerConfig, BreakerPolicy


def test_agents_get_the_default_config():
    assert BreakerPolicy().for_agent("worker", {"code"}) == BreakerConfig()


def test_the_architect_role_gets_the_stricter_config():
    assert BreakerPolicy().for_agent("architect") == ARCHITECT_BREAKER


def test_an_architect_capability_also_selects_it():
    assert BreakerPolicy().for_agent("high-level", {"design", "architect"}) == ARCHITECT_BREAKER


def test_role_takes_precedence_over_capabilities():
    policy = BreakerPolicy(per_role={"manager": BreakerConfig(failure_threshold=5), "architect": ARCHITECT_BREAKER})
    assert policy.for_agent("manager", {"architect"}).failure_threshold == 5


def test_capabilities_are_consulted_alphabetically():
    policy = BreakerPolicy(per_role={"b": BreakerConfig(failure_threshold=4), "a": BreakerConfig(failure_threshold=6)})
    assert policy.for_agent("worker", ["b", "a"]).failure_threshold == 6


def test_round_trips_through_json():
    policy = BreakerPolicy(BreakerConfig(open_timeout_s=10), {"x": BreakerConfig(failure_threshold=9)})
    assert BreakerPolicy.from_dict(json.loads(json.dumps(policy.to_dict()))) == policy


def test_missing_per_role_keeps_the_architect_default():
    assert BreakerPolicy.from_dict({}).for_agent("architect") == ARCHITECT_BREAKER
