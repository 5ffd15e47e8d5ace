import pytest

from services.assigner.routing import Assign, AuctionWeights, Bid, Escalate, route_by_auction
from tests.unit.assigner.fleet import NOW, agent, open_breaker, task

AGENTS = [agent("a"), agent("b"), agent("c")]


def winner(decision) -> str:
    assert isinstance(decision, Assign), decision
    assert decision.strategy == "auction"
    return decision.agent_id


def test_cheaper_and_faster_bid_wins():
    assert winner(route_by_auction(task(), AGENTS, [Bid("a", 5, 50), Bid("b", 2, 20)], NOW)) == "b"


def test_score_balances_normalised_cost_and_eta():
    # a: 0.5 * 10/20 + 0.5 * 100/100 = 0.75; b: 0.5 * 20/20 + 0.5 * 10/100 = 0.55
    bids = [Bid("a", 10, 100), Bid("b", 20, 10)]
    assert winner(route_by_auction(task(), AGENTS, bids, NOW)) == "b"


def test_weights_change_the_winner():
    bids = [Bid("a", 10, 100), Bid("b", 20, 10)]
    assert winner(route_by_auction(task(), AGENTS, bids, NOW, weights=AuctionWeights(cost=1, eta=0))) == "a"


def test_score_ties_go_to_the_lower_cost_then_the_agent_id():
    assert winner(route_by_auction(task(), AGENTS, [Bid("c", 1, 1), Bid("b", 1, 1)], NOW)) == "b"


def test_bids_from_ineligible_agents_are_ignored():
    agents = [agent("open", breaker=open_breaker()), agent("full", in_flight=2), agent("tester", "test"), agent("ok")]
    bids = [Bid("open", 0, 0), Bid("full", 0, 0), Bid("tester", 0, 0), Bid("stranger", 0, 0), Bid("ok", 9, 9)]
    assert winner(route_by_auction(task(), agents, bids, NOW)) == "ok"


def test_the_decision_explains_the_win():
    decision = route_by_auction(task(), AGENTS, [Bid("a", 3, 30)], NOW)
    assert isinstance(decision, Assign)
    assert decision.reason == "won the auction among 1 eligible bid(s): cost 3, eta 30s"


def test_zero_cost_and_eta_bids_do_not_divide_by_zero():
    assert winner(route_by_auction(task(), AGENTS, [Bid("a", 0, 0), Bid("b", 0, 0)], NOW)) == "a"


def test_no_eligible_bid_falls_back_to_least_loaded():
    agents = [agent("a", in_flight=1), agent("b")]
    decision = route_by_auction(task(), agents, [Bid("ghost", 1, 1)], NOW)
    assert isinstance(decision, Assign)
    assert (decision.agent_id, decision.strategy) == ("b", "least_loaded")
    assert decision.reason.startswith("no eligible bid; ")


def test_no_bid_and_no_capable_agent_escalates():
    assert isinstance(route_by_auction(task(capability="legal"), AGENTS, [], NOW), Escalate)


def test_negative_bids_are_refused():
    with pytest.raises(ValueError, match="negative"):
        Bid("a", -1, 5)
