"""Drift monitor: pure drift math (embeddings, baselines, stability, coordination drift, EMC and ABA).

The modules here do no I/O; the service that wires them to Kafka lives beside them.
"""
