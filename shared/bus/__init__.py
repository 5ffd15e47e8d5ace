"""Kafka plumbing: topic catalogue, producer, consumer loop, dead letters."""
