"""Observed-remove set: every add carries a unique tag; a remove deletes only the tags it has seen.

An add concurrent with a remove therefore survives (its tag was not observed by the remover), which is
what a registry of active sessions needs: a session that re-registers while another replica is
clearing it stays registered.

Tags are supplied by the caller and must be unique per add (an event id, or the replica id with an HLC
stamp): the logic takes no randomness. Re-adding a tag that was already added or removed is a no-op,
which makes redelivered adds harmless. Removed tags are kept as tombstones; pruning them safely needs
causal stability information, which this full-state variant does not track.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


def _union(first: Mapping[str, frozenset[str]], second: Mapping[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    elements = first.keys() | second.keys()
    return {e: first.get(e, frozenset()) | second.get(e, frozenset()) for e in elements}


def _normalised(tags_by_element: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    return {e: frozenset(tags) for e, tags in sorted(tags_by_element.items()) if tags}


@dataclass(frozen=True)
class ORSet:
    """A set of strings with add-wins semantics under concurrency (``added``/``removed``: element -> tags)."""

    added: Mapping[str, frozenset[str]] = field(default_factory=dict)
    removed: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "added", _normalised(self.added))
        object.__setattr__(self, "removed", _normalised(self.removed))

    def add(self, element: str, tag: str) -> ORSet:
        """Add ``element`` under the unique ``tag``."""
        return ORSet(_union(self.added, {element: frozenset({tag})}), self.removed)

    def remove(self, element: str) -> ORSet:
        """Remove ``element`` by tombstoning the tags this replica has observed for it."""
        return ORSet(self.added, _union(self.removed, {element: self.tags(element)}))

    def tags(self, element: str) -> frozenset[str]:
        """The live (added and not removed) tags of ``element``."""
        return self.added.get(element, frozenset()) - self.removed.get(element, frozenset())

    def __contains__(self, element: object) -> bool:
        return isinstance(element, str) and bool(self.tags(element))

    @property
    def elements(self) -> frozenset[str]:
        """The current members."""
        return frozenset(element for element in self.added if element in self)

    def merge(self, other: ORSet) -> ORSet:
        """Union of adds and union of tombstones."""
        return ORSet(_union(self.added, other.added), _union(self.removed, other.removed))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (full state, tags sorted so equal sets serialise identically)."""
        return {
            "added": {e: sorted(tags) for e, tags in self.added.items()},
            "removed": {e: sorted(tags) for e, tags in self.removed.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ORSet:
        """Inverse of :meth:`to_dict`."""
        return cls(
            {str(e): _tags(tags) for e, tags in data.get("added", {}).items()},
            {str(e): _tags(tags) for e, tags in data.get("removed", {}).items()},
        )


def _tags(tags: Any) -> frozenset[str]:
    """An element's tags as read from JSON: a list of strings, or ``TypeError`` (a state of another shape would
    merge, then fail to encode: its tags sort together)."""
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise TypeError(f"an OR-Set's tags are a list of strings, not {tags!r:.80}")
    return frozenset(tags)
