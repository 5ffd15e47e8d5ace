"""Local infrastructure without Docker: a real Kafka broker from Maven jars, and Postgres (embedded or given).

Command line: ``python -m shared.infra kafka|postgres ...``. Test fixtures: ``tests/infra_fixtures.py``.
"""
