"""One observed agent interaction, and the format signature derived from its output text."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

FormatKind = Literal["json", "markdown", "code", "plain"]

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+\S", re.MULTILINE)
_LIST_ITEM = re.compile(r"^\s{0,3}(?:[-*+]|\d+[.)])\s+\S", re.MULTILINE)
_FENCE = re.compile(r"^\s*```", re.MULTILINE)
_CODE_LINE = re.compile(
    r"^\s*(?:def |class |import |from \S+ import |function |const |let |var |return\b|if\s*\(|for\s*\(|"
    r"#include|package |public |private |fn |\}|\{)|[;{}]\s*$"
)


@dataclass(frozen=True)
class FormatSignature:
    """The shape of an output: its kind and, for a JSON object, its sorted top-level keys."""

    kind: FormatKind
    keys: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"kind": self.kind, "keys": list(self.keys)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FormatSignature:
        """Inverse of `to_dict`."""
        return cls(kind=data["kind"], keys=tuple(data.get("keys", ())))


def format_signature(text: str) -> FormatSignature:
    """Classify `text` as json, code, markdown or plain.

    JSON wins when the whole text parses (objects also report their top-level keys). Code is a text that is
    one fenced block, or whose non-blank lines mostly look like code. Markdown needs a heading, two list
    items or a fence among prose. Everything else is plain prose.
    """
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            parsed = json.loads(stripped)
        except ValueError:
            parsed = None
        else:
            keys = tuple(sorted(str(k) for k in parsed)) if isinstance(parsed, dict) else ()
            return FormatSignature("json", keys)
    if _is_code(stripped):
        return FormatSignature("code")
    if _HEADING.search(stripped) or len(_LIST_ITEM.findall(stripped)) >= 2 or _FENCE.search(stripped):
        return FormatSignature("markdown")
    return FormatSignature("plain")


def _is_code(text: str) -> bool:
    if text.startswith("```") and text.endswith("```") and text.count("```") == 2:
        return True
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return False
    code_lines = sum(1 for line in lines if _CODE_LINE.search(line))
    return code_lines * 2 > len(lines)


@dataclass(frozen=True)
class BehaviourSample:
    """What one agent did in one interaction, as the drift monitor sees it.

    `signature` may be supplied by the caller (e.g. from structured output metadata); otherwise it is
    derived from `output` with `format_signature` when the sample is created.
    """

    agent_id: str
    role: str
    output: str
    tools_used: frozenset[str] = frozenset()
    memory_used: bool = False
    latency_ms: float = 0.0
    tokens: int = 0
    signature: FormatSignature | None = field(default=None)

    def __post_init__(self) -> None:
        if self.signature is None:
            object.__setattr__(self, "signature", format_signature(self.output))

    def format(self) -> FormatSignature:
        """The supplied signature, or the one derived from the output text."""
        return self.signature or format_signature(self.output)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "agent_id": self.agent_id,
            "role": self.role,
            "output": self.output,
            "tools_used": sorted(self.tools_used),
            "memory_used": self.memory_used,
            "latency_ms": self.latency_ms,
            "tokens": self.tokens,
            "signature": self.signature.to_dict() if self.signature is not None else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BehaviourSample:
        """Inverse of `to_dict`."""
        signature = data.get("signature")
        return cls(
            agent_id=data["agent_id"],
            role=data["role"],
            output=data["output"],
            tools_used=frozenset(data.get("tools_used", ())),
            memory_used=bool(data.get("memory_used", False)),
            latency_ms=float(data.get("latency_ms", 0.0)),
            tokens=int(data.get("tokens", 0)),
            signature=FormatSignature.from_dict(signature) if signature is not None else None,
        )
