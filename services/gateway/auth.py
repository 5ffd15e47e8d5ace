"""API keys with scopes: parsing the configured keys, finding the caller of a request, checking scopes.

Keys are configured as ``key1=name1:submit+approve,key2=name2:admin``. ``admin`` implies every scope; an entry
with no scopes (``key=name`` or ``key=name:``) may only query. Keys are kept as SHA-256 digests, so neither a
``repr`` nor a traceback of these objects can reveal one, and error messages name an entry by its position.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

#: The well-known development key: refused unless ``ARCHITECT_GATEWAY_ALLOW_DEV_KEY=1``.
DEV_API_KEY = "architect-dev-key"
DEV_API_KEY_ENTRY = f"{DEV_API_KEY}=developer:admin"
DEV_KEY_REFUSED = (
    "the development API key is refused: configure ARCHITECT_GATEWAY_API_KEYS, "
    "or set ARCHITECT_GATEWAY_ALLOW_DEV_KEY=1 for local use"
)


class Scope(StrEnum):
    """What a key may do beyond querying."""

    SUBMIT = "submit"
    APPROVE = "approve"
    ADMIN = "admin"


class ApiKeyFormatError(ValueError):
    """``ARCHITECT_GATEWAY_API_KEYS`` is malformed; the message never contains a key."""


class AuthenticationFailed(Exception):
    """No usable key was presented (maps to 401)."""


class MissingScope(Exception):
    """The caller is known but may not do this (maps to 403)."""

    def __init__(self, caller: str, scope: Scope, via: str = "API key") -> None:
        super().__init__(f"the {via} of {caller!r} lacks the {scope.value!r} scope")
        self.caller = caller
        self.scope = scope


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the name configured for their key or named by their token (used as submitter and
    approver), its scopes, and how it authenticated (``API key`` or ``token``)."""

    name: str
    scopes: frozenset[Scope] = frozenset()
    via: str = field(default="API key", compare=False)

    def may(self, scope: Scope) -> bool:
        """Whether this caller holds ``scope``; admin holds them all."""
        return Scope.ADMIN in self.scopes or scope in self.scopes

    def require(self, scope: Scope) -> Caller:
        """This caller, or ``MissingScope`` naming the scope it lacks."""
        if not self.may(scope):
            raise MissingScope(self.name, scope, self.via)
        return self


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


@dataclass(frozen=True)
class ApiKeys:
    """The configured keys, by digest; ``authenticate`` turns a presented key into a ``Caller``."""

    callers: Mapping[bytes, Caller] = field(default_factory=dict, repr=False)
    refused: frozenset[bytes] = field(default=frozenset(), repr=False)

    @classmethod
    def parse(cls, spec: str, *, allow_dev_key: bool = False) -> ApiKeys:
        """Read ``key=name:scope+scope,...``; the development key is kept only when ``allow_dev_key``."""
        callers: dict[bytes, Caller] = {}
        for position, entry in enumerate((e.strip() for e in spec.split(",")), start=1):
            if not entry:
                continue
            key, caller = _parse_entry(entry, position)
            digest = _digest(key)
            if digest in callers:
                raise ApiKeyFormatError(f"entry {position} of the API keys repeats the key of an earlier entry")
            callers[digest] = caller
        dev = _digest(DEV_API_KEY)
        if allow_dev_key:
            return cls(callers)
        callers.pop(dev, None)
        return cls(callers, refused=frozenset({dev}))

    def __len__(self) -> int:
        return len(self.callers)

    def authenticate(self, presented: str | None) -> Caller:
        """The caller owning ``presented``, or ``AuthenticationFailed`` saying why (never echoing the key)."""
        if not presented:
            raise AuthenticationFailed("missing API key: send it in X-API-Key or as Authorization: Bearer <key>")
        digest = _digest(presented)
        if digest in self.refused:
            raise AuthenticationFailed(DEV_KEY_REFUSED)
        caller = self.callers.get(digest)
        if caller is None:
            raise AuthenticationFailed("unknown API key")
        return caller


def _parse_entry(entry: str, position: int) -> tuple[str, Caller]:
    # The key is everything before the last '=', so base64 keys with '=' padding still parse.
    key, equals, identity = entry.rpartition("=")
    key = key.strip()
    if not equals or not key:
        raise ApiKeyFormatError(f"entry {position} of the API keys is not of the form key=name:scope+scope")
    name, _, scope_list = identity.partition(":")
    name = name.strip()
    if not name:
        raise ApiKeyFormatError(f"entry {position} of the API keys has no name after '='")
    scopes = set()
    for word in (s.strip() for s in scope_list.split("+")):
        if not word:
            continue
        try:
            scopes.add(Scope(word))
        except ValueError:
            known = ", ".join(s.value for s in Scope)
            raise ApiKeyFormatError(
                f"entry {position} of the API keys ({name}) has an unknown scope {word!r} (known: {known})"
            ) from None
    return key, Caller(name, frozenset(scopes))


def presented_key(x_api_key: str | None, bearer_token: str | None) -> str | None:
    """The key a request carries: ``X-API-Key`` first, else the token of ``Authorization: Bearer``."""
    for candidate in (x_api_key, bearer_token):
        if candidate and candidate.strip():
            return candidate.strip()
    return None
