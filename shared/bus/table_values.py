"""faust table values kept as JSON bytes, so a table of thousands of records costs the garbage collector nothing.

A table with a JSON value serializer keeps every value as the dicts and lists it was given (or decoded on
recovery). Python's cycle collector walks all of them in each full collection, and a service's tables only grow:
the orchestrator's goals table made its full collections pause the event loop for 120-380 ms after ~18,000 tasks
(`bench/results/goal_path.md`). With ``BYTES_VALUES`` a table keeps each value as the UTF-8 JSON text the
changelog holds anyway (bytes are not tracked by the collector), and the service decodes the values it reads.
Create such a table with ``**BYTES_VALUED``: faust takes the serializer of a table's changelog sends from
``value_type``, and the changelog topic (read on restore) decodes with the schema's, so both are set.

The changelog's records are the same JSON either way, so a changelog written with ``value_serializer="json"``
restores into such a table, and the other way round. Every table of the faust services that grows with the work
is kept so (the orchestrator's goals, the saga coordinator's sagas, the consensus engine's decisions;
``tests/unit/bus/test_tables.py``); ``JsonValued`` lets a handler written against a mapping of JSON documents
use one. The drift monitor's table grows with the fleet and is read whole for every sample, so it keeps dicts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, MutableMapping
from typing import Any

import faust

#: Keys as JSON, values as the bytes the table was given (``encode_value``'s).
BYTES_VALUES = faust.Schema(key_serializer="json", value_serializer="raw", value_type=bytes)
#: ``app.Table`` options of a table whose values are ``encode_value``'s bytes.
BYTES_VALUED: dict[str, Any] = {"schema": BYTES_VALUES, "value_type": bytes}


def encode_value(value: Any) -> bytes:
    """The bytes to store for a JSON-serialisable value (compact, as faust's own JSON codec writes it)."""
    return json.dumps(value, separators=(",", ":")).encode()


def decode_value(stored: bytes | str | None) -> Any:
    """The value stored by `encode_value` (None for no value)."""
    return None if stored is None else json.loads(stored)


class JsonValued(MutableMapping[str, Any]):
    """A ``BYTES_VALUED`` table seen as the JSON values it stores: reading a key decodes its bytes, writing one
    encodes the value. For code written against a mapping of JSON documents (the saga and decision handlers);
    each read returns a new object, so changing it changes nothing until it is written back."""

    def __init__(self, table: MutableMapping[str, Any]) -> None:
        self.table = table

    def __getitem__(self, key: str) -> Any:
        stored = self.table[key]
        if stored is None:
            raise KeyError(key)
        return decode_value(stored)

    def __setitem__(self, key: str, value: Any) -> None:
        self.table[key] = encode_value(value)

    def __delitem__(self, key: str) -> None:
        del self.table[key]

    def __iter__(self) -> Iterator[str]:
        return (key for key, stored in self.table.items() if stored is not None)

    def __len__(self) -> int:
        return sum(1 for _key in self)
