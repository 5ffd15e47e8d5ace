"""A bound on how long a faust worker may take to stop after SIGTERM/SIGINT.

faust's shutdown waits for its consumer and producer to stop; with the broker unreachable that wait has no end,
and a service that ignores SIGTERM leaves orphans behind in tests and pods stuck in Terminating. Once a stop is
scheduled, a timer ends the process if the stop has not finished in time. That is safe: a faust service's state
is in Kafka (changelogs, committed offsets), and its outputs have derived ids, so a restart resumes it.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from mode import Worker

log = logging.getLogger(__name__)

EXIT_CODE_SHUTDOWN_TIMEOUT = 3
_installed = False


def bound_faust_shutdown(seconds: float = 30.0) -> None:
    """Make every faust/mode worker in this process exit within ``seconds`` of being asked to stop."""
    global _installed
    if _installed:
        return
    _installed = True
    schedule = Worker._schedule_shutdown

    def schedule_with_deadline(self: Worker, *args: Any, **kwargs: Any) -> Any:
        timer = threading.Timer(seconds, _give_up, args=(seconds,))
        timer.daemon = True
        timer.start()
        return schedule(self, *args, **kwargs)

    Worker._schedule_shutdown = schedule_with_deadline  # type: ignore[method-assign]


def _give_up(seconds: float) -> None:
    log.error("shutdown did not finish within %.0fs (broker unreachable?); exiting", seconds)
    logging.shutdown()
    os._exit(EXIT_CODE_SHUTDOWN_TIMEOUT)
