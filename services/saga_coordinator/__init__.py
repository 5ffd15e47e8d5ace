"""Saga coordinator: runs multi-step sagas with compensations (pure state machine and definitions)."""
