"""NUL characters: JSON can carry them (``\\u0000``), the event log cannot (Postgres ``jsonb`` and ``text`` refuse
them). The codec rejects records holding one, so producers of free text (agent outputs, command bodies) check
or clean theirs before publishing instead of having every consumer dead-letter the event."""

from __future__ import annotations

from typing import Any

import pydantic_core

REPLACEMENT = "\ufffd"


def holds_nul(value: Any) -> bool:
    """Whether a parsed JSON value has a NUL character in any string, keys included."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in key or holds_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(holds_nul(item) for item in value)
    return False


def body_holds_nul(body: bytes) -> bool:
    """Whether a JSON document holds a NUL character in a string (a cheap byte search first)."""
    return b"\\u0000" in body and holds_nul(pydantic_core.from_json(body))


def replace_nul(value: Any) -> Any:
    """``value`` with every NUL character in its strings (keys included) replaced by U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", REPLACEMENT)
    if isinstance(value, dict):
        return {replace_nul(key): replace_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [replace_nul(item) for item in value]
    if isinstance(value, tuple):
        return tuple(replace_nul(item) for item in value)
    return value
