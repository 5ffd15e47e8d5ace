"""The one envelope every Architect event and command travels in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, SerializeAsAny

#: Namespace for deterministic ids of derived events (DESIGN rule 4).
DERIVED_EVENT_NAMESPACE = uuid.UUID("6f1c2f0e-6a51-4a3e-9b0c-6c1d7b1f4a10")


#: Where ``mark_upcast`` notes the written version. Not a declared ``PrivateAttr``: a model with private attributes
#: pays for initialising them on every instance (a third of a decode), and only upcast records need one.
_UPCAST_FROM = "_upcast_from"


def _timestamp_not_number(value: Any) -> Any:
    """Refuse epoch numbers: validation would read them as UTC, but the record's body (stored and replayed as
    written) would then hold a number where every reader, Postgres's ``timestamptz`` included, expects RFC 3339."""
    if isinstance(value, int | float):
        raise ValueError("occurred_at must be an RFC 3339 timestamp string with a UTC offset, not a number")
    return value


#: When an event happened: an RFC 3339 timestamp with its offset (a naive one could not be ordered against others).
Timestamp = Annotated[AwareDatetime, BeforeValidator(_timestamp_not_number)]


class Payload(BaseModel):
    """Base of every typed payload: immutable, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


P = TypeVar("P", bound=Payload)


class Envelope(BaseModel, Generic[P]):
    """Metadata that makes an event traceable, replayable and de-duplicable, around a typed payload.

    ``stream_id`` is the aggregate the event belongs to (a goal id, an agent id) and is the Kafka key;
    ``correlation_id`` ties it to the goal or run it serves; ``causation_id`` is the event that caused it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str = Field(min_length=1, max_length=100)
    version: int = Field(ge=1)
    occurred_at: Timestamp = Field(default_factory=lambda: datetime.now(UTC))
    producer: str = Field(min_length=1, max_length=200)
    stream_id: str = Field(min_length=1, max_length=200)
    causation_id: uuid.UUID | None = None
    correlation_id: str = Field(min_length=1, max_length=200)
    payload: SerializeAsAny[P]

    @property
    def upcast_from(self) -> int | None:
        """The version the record was written in, when it was upcast on read (None: written as current)."""
        private = self.__pydantic_private__
        return private.get(_UPCAST_FROM) if private else None

    def derive_id(self, kind: str) -> uuid.UUID:
        """A deterministic id for an event this one causes, so a replayed handler emits the same ids."""
        return uuid.uuid5(DERIVED_EVENT_NAMESPACE, f"{self.event_id}:{kind}")

    def header_metadata(self) -> dict[str, str]:
        """Envelope metadata duplicated into Kafka headers for tools that do not parse the value."""
        return {
            "architect-event-id": str(self.event_id),
            "architect-type": self.type,
            "architect-version": str(self.version),
            "architect-correlation-id": self.correlation_id,
        }

    def summary(self) -> dict[str, Any]:
        """A compact, log-friendly view (never the payload, which may hold secrets or large outputs)."""
        return {
            "event_id": str(self.event_id),
            "type": self.type,
            "stream_id": self.stream_id,
            "correlation_id": self.correlation_id,
        }


def mark_upcast(envelope: Envelope[Any], written_as: int) -> None:
    """Note on a decoded envelope that its record was written as ``written_as`` and upcast on read.

    Kept in pydantic's private-attribute slot (copied by ``model_copy`` and compared by ``==`` as before),
    set directly since the model is frozen and declares no private attributes.
    """
    object.__setattr__(envelope, "__pydantic_private__", {_UPCAST_FROM: written_as})
