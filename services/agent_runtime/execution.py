"""Running one task on a backend (in a worker thread): every outcome, even an unexpected error, is a Completion."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from services.agent_runtime.backends.contract import Backend, BackendFailure, TaskRequest
from services.agent_runtime.ledger import AssignmentKey
from services.agent_runtime.settlement import Completion

log = logging.getLogger(__name__)


def run_task(
    backend: Backend, request: TaskRequest, key: AssignmentKey, clock: Callable[[], float] = time.monotonic
) -> Completion:
    """Call the backend and time it. ``BackendFailure`` keeps its class; any other exception is a crash, and
    an output that cannot be written as JSON is invalid (it could never be published)."""
    started = clock()

    def elapsed_ms() -> int:
        return int((clock() - started) * 1000)

    try:
        result = backend.execute(request)
        json.dumps(result.output)
    except BackendFailure as failure:
        return Completion.failed(key, failure.error_class, failure.message, elapsed_ms())
    except (TypeError, ValueError) as exc:
        return Completion.failed(key, "invalid", f"output is not JSON: {exc}", elapsed_ms())
    except Exception as exc:
        log.exception("backend of %s crashed on task %s", key.agent_id, key.task_id)
        return Completion.failed(key, "crash", f"{type(exc).__name__}: {exc}", elapsed_ms())
    return Completion.succeeded(key, result, elapsed_ms())
