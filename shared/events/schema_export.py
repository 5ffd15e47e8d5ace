"""JSON Schema export of the catalogue, for producers written in other languages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.events.catalogue import CATALOGUE
from shared.events.codec import envelope_model


def schema_for(event_type: str) -> dict[str, Any]:
    """The JSON Schema of a whole envelope carrying ``event_type``'s current payload."""
    spec = CATALOGUE[event_type]
    schema = envelope_model(spec.payload).model_json_schema()
    schema["title"] = spec.type
    schema["description"] = spec.description
    schema["properties"]["type"] = {"const": spec.type, "title": "Type", "type": "string"}
    schema["properties"]["version"] = {"const": spec.version, "title": "Version", "type": "integer"}
    schema["x-architect"] = {"topic": spec.topic, "kind": spec.kind, "owner": spec.owner}
    return schema


def export_schemas(directory: Path) -> list[Path]:
    """Write ``<Type>.v<version>.schema.json`` per type plus an ``index.json``; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    index = []
    for event_type in sorted(CATALOGUE):
        spec = CATALOGUE[event_type]
        path = directory / f"{spec.type}.v{spec.version}.schema.json"
        path.write_text(json.dumps(schema_for(event_type), indent=2, sort_keys=True) + "\n")
        written.append(path)
        index.append(
            {
                "type": spec.type,
                "version": spec.version,
                "topic": spec.topic,
                "kind": spec.kind,
                "owner": spec.owner,
                "schema": path.name,
            }
        )
    index_path = directory / "index.json"
    index_path.write_text(json.dumps(index, indent=2) + "\n")
    written.append(index_path)
    return written
