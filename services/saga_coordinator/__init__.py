"""Saga coordinator: runs multi-step sagas with compensations (`python -m services.saga_coordinator`)."""
