"""Keeping what a service allocated while starting out of the garbage collector's scans.

CPython's full (generation 2) collection walks every tracked object. A started service holds a few hundred
thousand that live as long as it does (modules, classes, pydantic schemas, faust's and the clients' objects),
and full collections during a run paused the loop thread for 60-140 ms (measured with ``gc.callbacks`` in every
service of the goal path; 14-40 ms once frozen). ``gc.freeze()`` moves the objects alive at that moment to a
permanent generation the collector skips; later collections walk only what the service made since. It runs once
the service is built, before its loop starts: state a service loads in its loop (the assigner's tasks, a faust
table's recovery) is collected as usual.
"""

from __future__ import annotations

import gc
from typing import Any


def freeze_startup_heap() -> None:
    """Collect once, then exempt every surviving object from later collections (call when start-up is done)."""
    gc.collect()
    gc.freeze()


def freeze_once_started(app: Any) -> None:
    """For a faust app: freeze the heap when its worker starts its tasks (its tables may still be recovering)."""

    async def _freeze() -> None:
        freeze_startup_heap()

    app.task(_freeze)
