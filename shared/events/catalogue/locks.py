"""File-edit locks: commands to the lock manager, keyed by file path so one owner decides per path in log order.

The lock manager answers through replicated state, not events: it writes each path's lease (holder, request,
expiry, and the requests it refused during that lease) into the ``file-locks`` LWW map it replicates on
``architect.state.crdt``. Any service or agent runtime holding a replica reads who holds what.
"""

from __future__ import annotations

from pydantic import Field

from shared.bus.topics import LOCKS_COMMANDS
from shared.events.envelope import Payload
from shared.events.spec import EventSpec

OWNER = "lock-manager"


class AcquireLock(Payload):
    """``agent_id`` asks to edit ``path`` for ``lease_s`` seconds (asking again while holding it renews)."""

    path: str = Field(min_length=1, max_length=1000)
    agent_id: str = Field(min_length=1)
    request_id: str = Field(min_length=1, max_length=200)
    lease_s: float = Field(default=300.0, gt=0, le=24 * 3600)
    task_id: str | None = None


class ReleaseLock(Payload):
    """``agent_id`` is done with ``path`` (ignored unless it holds the lock)."""

    path: str = Field(min_length=1, max_length=1000)
    agent_id: str = Field(min_length=1)
    request_id: str = ""


SPECS: tuple[EventSpec, ...] = (
    EventSpec("AcquireLock", 1, AcquireLock, LOCKS_COMMANDS, "command", OWNER, "Ask for a lease on a file path."),
    EventSpec("ReleaseLock", 1, ReleaseLock, LOCKS_COMMANDS, "command", OWNER, "Give a file path's lease back."),
)
