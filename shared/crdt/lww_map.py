"""Last-writer-wins map: string keys, each bound to its own LWW register (e.g. file path -> holder)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.crdt.hlc import HybridTimestamp
from shared.crdt.lww_register import JsonValue, LWWRegister


@dataclass(frozen=True)
class LWWMap:
    """A map whose entries merge independently; deletions are tombstone registers, so they replicate."""

    registers: Mapping[str, LWWRegister] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "registers", dict(sorted(self.registers.items())))

    def _written(self, key: str, register: LWWRegister) -> LWWMap:
        current = self.registers.get(key)
        return LWWMap({**self.registers, key: register if current is None else current.merge(register)})

    def set(self, key: str, value: JsonValue, at: HybridTimestamp) -> LWWMap:
        """The map after writing ``value`` under ``key`` at ``at``."""
        return self._written(key, LWWRegister(value, at))

    def delete(self, key: str, at: HybridTimestamp) -> LWWMap:
        """The map after deleting ``key`` at ``at`` (a later write brings it back)."""
        return self._written(key, LWWRegister(None, at, deleted=True))

    def get(self, key: str, default: JsonValue = None) -> JsonValue:
        """The live value under ``key``, or ``default``."""
        register = self.registers.get(key)
        return default if register is None or register.deleted else register.value

    def __contains__(self, key: object) -> bool:
        register = self.registers.get(key) if isinstance(key, str) else None
        return register is not None and not register.deleted

    def items(self) -> dict[str, JsonValue]:
        """The live entries."""
        return {k: r.value for k, r in self.registers.items() if not r.deleted}

    def merge(self, other: LWWMap) -> LWWMap:
        """Merge register by register (one pass: the result map is built once, not once per key)."""
        registers = dict(self.registers)
        for key, register in other.registers.items():
            current = registers.get(key)
            registers[key] = register if current is None else current.merge(register)
        return LWWMap(registers)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (full state, tombstones included)."""
        return {"registers": {k: r.to_dict() for k, r in self.registers.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LWWMap:
        """Inverse of :meth:`to_dict`."""
        return cls({str(k): LWWRegister.from_dict(r) for k, r in data.get("registers", {}).items()})
