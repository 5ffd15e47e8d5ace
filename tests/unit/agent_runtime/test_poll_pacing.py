"""The runtime's poll pacing: settle fast results at once, back off while long work runs, never spin."""

from services.agent_runtime.poll_pacing import FIRST_POLL_S, IDLE_POLL_S, poll_timeout


def test_nothing_running_waits_the_idle_poll() -> None:
    assert poll_timeout(None) == IDLE_POLL_S


def test_results_waiting_are_settled_without_waiting() -> None:
    assert poll_timeout(None, results_waiting=True) == 0.0
    assert poll_timeout(5.0, results_waiting=True) == 0.0


def test_just_after_a_launch_the_loop_looks_back_soon() -> None:
    assert poll_timeout(0.0) == FIRST_POLL_S
    assert FIRST_POLL_S <= 0.005


def test_the_wait_grows_with_the_time_since_the_launch_up_to_the_idle_poll() -> None:
    waits = [poll_timeout(since) for since in (0.0, 0.01, 0.05, 0.1, 0.4, 60.0)]
    assert waits == sorted(waits)
    assert waits[-1] == IDLE_POLL_S


def test_a_long_task_costs_a_handful_of_polls_not_a_busy_loop() -> None:
    elapsed, polls = 0.0, 0
    while elapsed < 60.0:
        elapsed += poll_timeout(elapsed)
        polls += 1
    # About 300 at the idle rate for a minute; the fast start adds only a few dozen.
    assert polls < 60.0 / IDLE_POLL_S + 40
