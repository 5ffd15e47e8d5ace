"""Progress lines on stderr, at most one every few seconds, so long phases show they are alive."""

from __future__ import annotations

import sys
import time


class ProgressLine:
    """Call with ``(done, total)``; prints ``label: done/total (pct) rate/s`` when ``every_s`` has passed."""

    def __init__(self, label: str, *, every_s: float = 2.0) -> None:
        self.label = label
        self.every_s = every_s
        self._started = time.perf_counter()
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - self._last < self.every_s and done < total:
            return
        self._last = now
        elapsed = now - self._started
        share = f" ({100 * done / total:5.1f}%)" if total else ""
        speed = done / elapsed if elapsed > 0 else 0.0
        line = f"  {self.label}: {done:,}/{total:,}{share}  {speed:,.0f}/s  {elapsed:6.1f}s"
        print(line, file=sys.stderr, flush=True)
