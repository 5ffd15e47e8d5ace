"""Entry point: deliver scheduled events (retries, timeouts, auction windows) when they come due."""

from services.scheduler.service import Scheduler
from shared.service_runtime import run_service


def main() -> None:
    run_service("scheduler", lambda settings, _url: Scheduler(settings))


if __name__ == "__main__":
    main()
