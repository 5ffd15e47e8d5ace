"""``JsonValued``: a bytes-valued table read and written as JSON documents."""

from __future__ import annotations

import pytest

from shared.bus.table_values import JsonValued, decode_value


def test_a_document_written_is_stored_as_bytes_and_read_back_as_a_new_equal_document() -> None:
    table: dict[str, object] = {}
    view = JsonValued(table)
    view["saga-1"] = {"status": "running", "steps": [1, 2], "pending": None}
    assert isinstance(table["saga-1"], bytes)
    assert decode_value(table["saga-1"]) == {"status": "running", "steps": [1, 2], "pending": None}
    read = view["saga-1"]
    assert read == {"status": "running", "steps": [1, 2], "pending": None}
    read["status"] = "changed"  # a copy: the table holds what was written until the next write
    assert view["saga-1"]["status"] == "running"


def test_a_missing_key_or_a_stored_none_reads_as_absent() -> None:
    table: dict[str, object] = {"gone": None}
    view = JsonValued(table)
    assert view.get("nothing") is None
    assert view.get("gone") is None
    with pytest.raises(KeyError):
        view["gone"]
    assert "nothing" not in view
    assert list(view) == [] and len(view) == 0 and dict(view.items()) == {}


def test_deleting_iterating_and_counting_follow_the_table() -> None:
    table: dict[str, object] = {}
    view = JsonValued(table)
    view["a"], view["b"] = {"n": 1}, {"n": 2}
    assert sorted(view) == ["a", "b"] and len(view) == 2
    del view["a"]
    assert list(table) == ["b"] and dict(view.items()) == {"b": {"n": 2}}
