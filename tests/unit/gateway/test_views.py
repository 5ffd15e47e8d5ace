"""Views of read-model rows: pages, agent load, dead-letter previews."""

from __future__ import annotations

from datetime import UTC, datetime

from services.gateway.views import VALUE_PREVIEW_BYTES, AgentView, ApprovalView, DeadLetterView, page

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def approval(task_id: str) -> dict[str, object]:
    return {
        "goal_id": "g",
        "task_id": task_id,
        "operator": "deploy",
        "status": "pending",
        "approver": None,
        "comment": None,
        "requested_at": NOW,
        "decided_at": None,
    }


def test_a_page_with_an_extra_row_points_to_the_next_page() -> None:
    result = page([approval("a"), approval("b"), approval("c")], ApprovalView, limit=2, offset=4)
    assert [a.task_id for a in result.items] == ["a", "b"]
    assert result.next_offset == 6


def test_the_last_page_has_no_next_offset() -> None:
    assert page([approval("a")], ApprovalView, limit=2, offset=0).next_offset is None


def agent(capacity: int | None, in_flight: int | None) -> AgentView:
    return AgentView(
        agent_id="a",
        role="worker",
        capabilities=["code"],
        capacity=capacity,
        cost=1.0,
        model="",
        status="alive",
        in_flight=in_flight,
        tokens_used=0,
        breaker_state="closed",
        last_heartbeat=NOW,
        registered_at=NOW,
        updated_at=NOW,
    )


def test_an_agents_load_is_its_share_of_capacity_in_use() -> None:
    assert agent(capacity=4, in_flight=1).load == 0.25
    assert agent(capacity=4, in_flight=1).model_dump()["load"] == 0.25


def test_an_agent_without_capacity_or_in_flight_count_has_no_load() -> None:
    assert agent(capacity=None, in_flight=1).load is None
    assert agent(capacity=4, in_flight=None).load is None


def dead_letter(key: bytes | None, value: bytes | None) -> dict[str, object]:
    return {
        "dlq_offset": 3,
        "reason": "not_json",
        "error": "value is not JSON",
        "source_topic": "architect.goals.events",
        "source_partition": 0,
        "source_offset": 9,
        "consumer_group": "architect-projector",
        "failed_at": NOW,
        "redriven": False,
        "key": key,
        "value": value,
    }


def test_a_dead_letter_previews_undecodable_bytes_instead_of_failing() -> None:
    view = DeadLetterView.from_row(dead_letter(b"g-1", b"\xff{broken"))
    assert view.key == "g-1"
    assert view.value_preview == "\ufffd{broken"
    assert view.value_bytes == 8


def test_a_dead_letter_value_is_previewed_not_returned_whole() -> None:
    view = DeadLetterView.from_row(dead_letter(None, b"x" * (VALUE_PREVIEW_BYTES + 10)))
    assert view.key is None
    assert len(view.value_preview or "") == VALUE_PREVIEW_BYTES
    assert view.value_bytes == VALUE_PREVIEW_BYTES + 10
