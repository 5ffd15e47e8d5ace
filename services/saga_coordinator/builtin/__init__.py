"""Saga definitions shipped with Architect (YAML files, loaded by `definitions.builtin_definition`)."""
