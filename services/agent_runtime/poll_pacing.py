"""How long the runtime's consumer loop may wait for records before its tick settles finished work.

Results of running tasks are settled in the loop's tick, which runs when a poll returns. A fixed long wait put
up to that wait between a fast agent's result and its report; a fixed short one would spin while long tasks
run. So the loop looks back soon after it launched work and then ever more rarely (half the time since the
last launch): a zero-latency agent's result is settled within milliseconds, and a task running for minutes
costs a handful of extra polls, not a busy loop. Records end any wait at once (``wake_on_record``).
"""

from __future__ import annotations

#: The wait when nothing runs, and the longest one while something does.
IDLE_POLL_S = 0.2
#: The first wait after a launch.
FIRST_POLL_S = 0.002


def poll_timeout(since_launch_s: float | None, results_waiting: bool = False) -> float:
    """The wait before the next tick: ``since_launch_s`` is the time since the last launch (None: nothing runs);
    results already waiting to be settled are settled without waiting."""
    if results_waiting:
        return 0.0
    if since_launch_s is None:
        return IDLE_POLL_S
    return min(IDLE_POLL_S, max(FIRST_POLL_S, since_launch_s / 2))
