"""Agent runtime: hosts agents behind pluggable backends, runs their assignments, bids and shares findings."""
