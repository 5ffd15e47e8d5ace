"""Stability: an exponential moving average of (1 - drift), starting fully stable."""

from __future__ import annotations

INITIAL_STABILITY = 1.0
DEFAULT_DECAY = 0.9


def next_stability(score: float, drift: float, decay: float = DEFAULT_DECAY) -> float:
    """The report's EMA step: `decay * score + (1 - decay) * (1 - drift)`.

    With decay 0.9 one interaction moves the score by a tenth of the gap, so a single odd output cannot
    trigger an alert, while a sustained drift of 0.7 pulls a score of 1.0 below 0.6 in about six steps.
    """
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"decay must be within [0, 1), got {decay}")
    clamped = min(1.0, max(0.0, drift))
    return decay * score + (1.0 - decay) * (1.0 - clamped)
