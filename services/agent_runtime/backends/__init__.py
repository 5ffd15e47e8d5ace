"""Pluggable backends that do an agent's work: scripted, Python callable, subprocess, OpenAI-compatible HTTP."""
