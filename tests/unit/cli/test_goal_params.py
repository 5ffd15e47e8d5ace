"""`architect goals submit --param key=value`: values read as YAML, malformed pairs refused."""

from __future__ import annotations

import pytest

from shared.cli.goals import parse_params


def test_values_are_read_as_yaml_scalars_and_lists() -> None:
    params = parse_params(["approval_before_deploy=true", "retries=3", "files=[a.py, b.py]", "note=hello world"])
    assert params == {"approval_before_deploy": True, "retries": 3, "files": ["a.py", "b.py"], "note": "hello world"}


def test_an_empty_value_is_an_empty_string() -> None:
    assert parse_params(["title="]) == {"title": ""}


@pytest.mark.parametrize("pair", ["novalue", "=value", " =x"])
def test_a_pair_without_a_key_or_equals_sign_is_refused(pair: str) -> None:
    with pytest.raises(ValueError, match="not key=value"):
        parse_params([pair])
