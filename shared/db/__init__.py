"""Postgres access for the read side: connections with timeouts and versioned SQL migrations."""
