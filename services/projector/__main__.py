"""Entry point: load settings, migrate the read-side schema, project until SIGTERM."""

from shared.service_runtime import run_service


def main() -> None:
    from services.projector.service import Projector

    def build(settings, database_url):  # type: ignore[no-untyped-def]
        return Projector(settings, database_url)

    run_service("projector", build, needs_database=True)


if __name__ == "__main__":
    main()
