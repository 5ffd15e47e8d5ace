"""Hybrid logical clock: monotonic, causality-preserving, close to physical time, deterministic."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.crdt.hlc import ClockDriftError, HybridClock, HybridTimestamp

seconds = st.floats(min_value=0, max_value=10_000, allow_nan=False)
remote_stamps = st.builds(
    HybridTimestamp,
    physical_ms=st.integers(min_value=0, max_value=10_000_000),
    logical=st.integers(min_value=0, max_value=50),
    replica=st.sampled_from(["a", "b", "c"]),
)


def test_send_takes_the_physical_time_in_milliseconds() -> None:
    _, stamp = HybridClock("a").send(now=12.3456)
    assert stamp == HybridTimestamp(12345, 0, "a")


def test_send_within_the_same_millisecond_bumps_the_logical_counter() -> None:
    clock, first = HybridClock("a").send(now=1.0)
    _, second = clock.send(now=1.0)
    assert (second.physical_ms, second.logical) == (first.physical_ms, first.logical + 1)


def test_logical_counter_resets_when_physical_time_moves_on() -> None:
    clock, _ = HybridClock("a").send(now=1.0)
    clock, _ = clock.send(now=1.0)
    _, stamp = clock.send(now=2.0)
    assert stamp == HybridTimestamp(2000, 0, "a")


def test_receive_from_a_clock_ahead_adopts_its_physical_time() -> None:
    remote = HybridTimestamp(5000, 3, "b")
    _, stamp = HybridClock("a").receive(remote, now=1.0)
    assert stamp == HybridTimestamp(5000, 4, "a")


@given(st.lists(seconds, min_size=1, max_size=30))
@settings(max_examples=60, deadline=None)
def test_sent_timestamps_strictly_increase_even_if_the_wall_clock_goes_back(times: list[float]) -> None:
    clock = HybridClock("a")
    previous = clock.last
    for now in times:
        clock, stamp = clock.send(now)
        assert stamp > previous
        assert stamp.physical_ms >= int(now * 1000)
        previous = stamp


@given(st.lists(st.tuples(seconds, st.none() | remote_stamps), min_size=1, max_size=30))
@settings(max_examples=60, deadline=None)
def test_a_received_message_is_stamped_after_both_the_sender_and_the_receiver_history(
    events: list[tuple[float, HybridTimestamp | None]],
) -> None:
    clock = HybridClock("a")
    for now, remote in events:
        before = clock.last
        clock, stamp = clock.send(now) if remote is None else clock.receive(remote, now)
        assert stamp > before
        if remote is not None:
            assert (stamp.physical_ms, stamp.logical) > (remote.physical_ms, remote.logical)


def test_timestamps_of_different_replicas_never_tie() -> None:
    _, a = HybridClock("a").send(now=1.0)
    _, b = HybridClock("b").send(now=1.0)
    assert a != b
    assert a < b


def test_a_remote_clock_too_far_ahead_is_rejected_when_a_drift_limit_is_set() -> None:
    clock = HybridClock("a", max_drift_ms=1000)
    with pytest.raises(ClockDriftError):
        clock.receive(HybridTimestamp(60_000, 0, "b"), now=1.0)


def test_clock_and_timestamp_round_trip_through_plain_dicts() -> None:
    clock, stamp = HybridClock("a", max_drift_ms=500).send(now=3.0)
    assert HybridClock.from_dict(clock.to_dict()) == clock
    assert HybridTimestamp.from_dict(stamp.to_dict()) == stamp
