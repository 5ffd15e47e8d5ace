"""Entry point: load settings, migrate the read-side schema, project until SIGTERM."""

from services.projector.service import Projector
from shared.service_runtime import run_service


def main() -> None:
    run_service(
        "projector",
        lambda settings, url: Projector(settings, url or "", max_batch=settings.projector_max_batch),
        needs_database=True,
    )


if __name__ == "__main__":
    main()
