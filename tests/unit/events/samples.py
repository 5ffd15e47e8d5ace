"""Minimal valid payloads for any catalogued type, built from the model's own field types."""

from __future__ import annotations

import typing
from datetime import UTC, datetime
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined


def sample_value(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin is Literal:
        return get_args(annotation)[0]
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        options = [a for a in get_args(annotation) if a is not type(None)]
        return sample_value(options[0])
    if origin is list:
        return [sample_value(get_args(annotation)[0])]
    if origin is dict:
        return {"k": "v"}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return sample_payload(annotation)
    if annotation is datetime:
        return datetime(2026, 1, 1, tzinfo=UTC)
    return {str: "x", int: 1, float: 1.5, bool: True}.get(annotation, "x")


def sample_payload(model: type[BaseModel]) -> Any:
    values = {}
    for name, field in model.model_fields.items():
        if field.default is PydanticUndefined and field.default_factory is None:
            values[name] = sample_value(field.annotation)
    return model(**values)
