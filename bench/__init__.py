"""Benchmarks of Architect's event backbone: one module per figure, each runnable as ``python -m bench.<name>``.

Each starts its own infrastructure unless the environment names one (see ``bench.infrastructure``), prints its
tables headed by the machine it ran on, then one line of JSON, and stops what it started.
``python -m bench.run_all`` (``make bench``) runs them all and writes ``bench/results/backbone.md``.
"""
