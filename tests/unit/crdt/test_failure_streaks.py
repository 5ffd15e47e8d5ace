"""The rule shared by a replica's refused publishes and the runtime's failed counter updates."""

from __future__ import annotations

import pytest

from shared.crdt.failure_streaks import FailureStreaks


def test_a_name_is_retried_until_its_limit_then_given_up_and_counted_afresh() -> None:
    streaks = FailureStreaks(3)
    assert [streaks.failed("a") for _ in range(3)] == [(True, 1), (True, 2), (False, 3)]
    assert len(streaks) == 0
    assert streaks.failed("a") == (True, 1)


def test_a_success_starts_the_count_over_for_that_name_only() -> None:
    streaks = FailureStreaks(2)
    streaks.failed("a")
    streaks.failed("b")
    streaks.succeeded("a")
    assert streaks.failed("a") == (True, 1)
    assert streaks.failed("b") == (False, 2)


def test_a_limit_of_one_gives_up_at_the_first_failure() -> None:
    assert FailureStreaks(1).failed("a") == (False, 1)


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FailureStreaks(0)
