"""Ports every service shares: the clock and the publisher. Fakes live in shared/testing.py."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from .events import Envelope, encode
from .topics import Topic


@dataclass(frozen=True, slots=True)
class Emit:
    """One output message: the wrapper publishes it after the handler returns."""

    topic: Topic
    key: str | None
    event: Envelope

    def value(self) -> bytes:
        return encode(self.event)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class Publisher(Protocol):
    """Sends a message; the returned awaitable completes when the broker has it."""

    def send(self, topic: str, key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]]) -> Awaitable[object]: ...
