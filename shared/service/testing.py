"""Test helpers for the ports: a publisher that records, a clock that stands still, factories."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.contract.events import Envelope, EventData, decode, encode, make_event
from shared.service.processor import Message


@dataclass
class Sent:
    topic: str
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]]

    @property
    def event(self) -> Envelope:
        return decode(self.value)


@dataclass
class FakePublisher:
    """Records what the wrapper publishes. `fail_with` makes every send raise (broker down)."""

    sent: list[Sent] = field(default_factory=list)
    fail_with: Exception | None = None

    def send(self, topic: str, key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]]) -> Any:
        fut: asyncio.Future = asyncio.get_event_loop().create_future()
        if self.fail_with is not None:
            fut.set_exception(self.fail_with)
        else:
            self.sent.append(Sent(topic, key, value, headers))
            fut.set_result(None)
        return fut

    def on(self, topic: Any) -> list[Envelope]:
        name = getattr(topic, "name", topic)
        return [s.event for s in self.sent if s.topic == name]


@dataclass
class FixedClock:
    at: datetime = datetime(2023, 6, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at = self.at + timedelta(**delta)


_offsets: dict[str, int] = {}


def envelope(data: EventData, *, id: str | None = None, source: str = "/test",
             time: datetime | None = None, subject: str | None = None) -> Envelope:
    return make_event(data, source=source, time=time or datetime(2023, 6, 1, 12, tzinfo=UTC),
                      id=id, subject=subject)


def message(topic: Any, payload: EventData | Envelope | bytes, *, key: bytes | None = None,
            partition: int = 0, offset: int | None = None, **kwargs: Any) -> Message:
    """A consumed record as the broker would deliver it (offsets count up per topic)."""
    name = getattr(topic, "name", topic)
    if offset is None:
        offset = _offsets.get(name, 0)
        _offsets[name] = offset + 1
    if isinstance(payload, EventData):
        payload = envelope(payload, **kwargs)
    value = payload if isinstance(payload, bytes) else encode(payload)
    return Message(name, partition, offset, key, value, 1_685_620_800.0)
