"""Entry point: route tasks to agents until SIGTERM."""

from services.assigner.service import Assigner
from shared.service_runtime import run_service


def main() -> None:
    run_service("assigner", lambda settings, _url: Assigner(settings))


if __name__ == "__main__":
    main()
