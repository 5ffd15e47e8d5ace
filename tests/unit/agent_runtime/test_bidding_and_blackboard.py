"""Who bids on an announced task, and what the blackboard keeps per goal."""

from services.agent_runtime.bidding import Bidder, bids_for
from services.agent_runtime.blackboard import Blackboard
from shared.events.catalogue.work import FindingPosted, TaskAnnounced

ANNOUNCED = TaskAnnounced(task_id="t1", goal_id="g1", operator="code", capability="code", window_s=5.0)


def bidder(agent_id: str, **overrides) -> Bidder:
    values = {"capabilities": frozenset({"code"}), "free_slots": 1, "cost": 1.0, "eta_s": 2.0} | overrides
    return Bidder(agent_id, **values)


def test_only_willing_able_agents_with_a_free_slot_bid_while_the_window_is_open():
    bidders = [
        bidder("yes", cost=0.5),
        bidder("busy", free_slots=0),
        bidder("unable", capabilities=frozenset({"docs"})),
        bidder("quiet", bids=False),
    ]
    (bid,) = bids_for(ANNOUNCED, announced_at=100.0, now=104.0, bidders=bidders)
    assert (bid.agent_id, bid.cost, bid.eta_s, bid.task_id, bid.goal_id) == ("yes", 0.5, 2.0, "t1", "g1")
    assert bids_for(ANNOUNCED, announced_at=100.0, now=105.5, bidders=bidders) == []


def finding(goal_id: str, topic: str) -> FindingPosted:
    return FindingPosted(goal_id=goal_id, task_id="t", agent_id="a", topic=topic, content={"n": topic})


def test_the_blackboard_keeps_recent_findings_per_goal_once_each():
    board = Blackboard(per_goal=2, max_goals=2)
    assert board.post("e1", finding("g1", "one"))
    assert not board.post("e1", finding("g1", "one")), "a redelivered finding is kept once"
    board.post("e2", finding("g1", "two"))
    board.post("e3", finding("g1", "three"))
    assert [f["topic"] for f in board.recent("g1")] == ["two", "three"]
    assert board.recent("unknown") == ()
    board.post("e4", finding("g2", "x"))
    board.post("e5", finding("g3", "y"))
    assert board.recent("g1") == (), "the least recently posted-to goal is forgotten first"
    assert Blackboard(per_goal=0).post("e6", finding("g1", "z")) is False
