"""Entry point: decide file-edit leases until SIGTERM."""

from services.locks.service import LockManager
from shared.service_runtime import run_service


def main() -> None:
    run_service("lock-manager", lambda settings, _url: LockManager(settings))


if __name__ == "__main__":
    main()
