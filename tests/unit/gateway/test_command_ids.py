"""Command ids: fresh by default, repeated for retries that carry the same Idempotency-Key."""

from __future__ import annotations

import re
import uuid

from hypothesis import given
from hypothesis import strategies as st

from services.gateway.command_bodies import IDENTIFIER_PATTERN
from services.gateway.command_ids import command_event_id, generated_goal_id

FRESH = uuid.UUID(int=7)


def test_without_a_key_the_fresh_id_is_used() -> None:
    assert command_event_id("alice", "submit_goal", None, fresh=FRESH) == FRESH


@given(st.text(min_size=1, max_size=50))
def test_a_retry_with_the_same_key_gets_the_same_id(key: str) -> None:
    first = command_event_id("alice", "submit_goal", key, fresh=uuid.uuid4())
    assert command_event_id("alice", "submit_goal", key, fresh=uuid.uuid4()) == first


def test_the_same_key_from_another_caller_or_operation_gets_another_id() -> None:
    ids = {
        command_event_id("alice", "submit_goal", "k", fresh=FRESH),
        command_event_id("bob", "submit_goal", "k", fresh=FRESH),
        command_event_id("alice", "cancel_goal:g", "k", fresh=FRESH),
    }
    assert len(ids) == 3


def test_a_generated_goal_id_follows_the_event_id_and_is_a_valid_identifier() -> None:
    goal_id = generated_goal_id(FRESH)
    assert goal_id == generated_goal_id(uuid.UUID(int=7)) != generated_goal_id(uuid.UUID(int=8))
    assert re.fullmatch(IDENTIFIER_PATTERN, goal_id)
