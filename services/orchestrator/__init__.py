"""Orchestrator: turns goals into task DAGs (HTN planning), tracks their progress, approvals and timeouts."""
