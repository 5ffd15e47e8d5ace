"""A consumed Kafka record, detached from librdkafka's Message so handlers and tests can build one."""

from __future__ import annotations

from dataclasses import dataclass, field

from confluent_kafka import Message


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)
    timestamp_ms: int = 0

    @classmethod
    def from_message(cls, msg: Message) -> Record:
        return cls(
            topic=msg.topic() or "",
            partition=msg.partition() or 0,
            offset=msg.offset() or 0,
            key=msg.key(),
            value=msg.value(),
            headers=list(msg.headers() or []),
            timestamp_ms=msg.timestamp()[1],
        )

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name and value is not None:
                return value.decode(errors="replace")
        return None
