"""A retry goes to another agent when one is able; the agents that failed the task stay a last resort."""

from services.assigner.routing import Assign, Bid, route, route_by_auction
from services.assigner.task_book import TrackedTask
from tests.unit.assigner.fleet import NOW, agent, task


def chosen(decision) -> str:
    assert isinstance(decision, Assign), decision
    return decision.agent_id


def test_the_agent_a_task_failed_on_is_passed_over_even_when_least_loaded() -> None:
    fleet = [agent("flaky", in_flight=0), agent("steady", in_flight=1)]
    assert chosen(route(task(), fleet, NOW)) == "flaky"
    assert chosen(route(task(failed_on=frozenset({"flaky"})), fleet, NOW)) == "steady"


def test_an_agent_that_failed_the_task_is_still_used_when_it_is_the_only_able_one() -> None:
    fleet = [agent("flaky"), agent("other", "docs")]
    assert chosen(route(task(failed_on=frozenset({"flaky"})), fleet, NOW)) == "flaky"


def test_drift_aware_routing_also_passes_over_failed_agents() -> None:
    fleet = [agent("stable", stability=0.99), agent("less", stability=0.7)]
    assert chosen(route(task(failed_on=frozenset({"stable"})), fleet, NOW, "drift_aware")) == "less"


def test_the_cheapest_bid_loses_to_any_bid_from_an_agent_that_has_not_failed_the_task() -> None:
    fleet = [agent("cheap"), agent("dear")]
    bids = [Bid("cheap", 0.1, 1), Bid("dear", 9, 9)]
    assert chosen(route_by_auction(task(), fleet, bids, NOW)) == "cheap"
    assert chosen(route_by_auction(task(failed_on=frozenset({"cheap"})), fleet, bids, NOW)) == "dear"


def test_each_failed_attempt_adds_its_agent_once_and_survives_the_state_topic() -> None:
    tracked = TrackedTask("g/t", "g", "code", "code", created_at=0.0)
    first = tracked.assigned("a").waiting_for_retry()
    second = first.retry_due(2).assigned("b").waiting_for_retry()
    third = second.retry_due(3).assigned("a").waiting_for_retry()
    assert third.failed_on == ("a", "b")
    assert third.view().failed_on == frozenset({"a", "b"})
    assert TrackedTask.from_dict(third.to_dict()) == third
    assert TrackedTask.from_dict({k: v for k, v in tracked.to_dict().items() if k != "failed_on"}) == tracked
