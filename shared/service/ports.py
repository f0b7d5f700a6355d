"""Ports every service shares: the clock and the publisher. Fakes live in shared/service/testing.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from shared.contract.events import Envelope, encode
from shared.contract.topics import Topic


@dataclass(frozen=True, slots=True)
class Emit:
    """One output message: the wrapper publishes it after the handler returns."""

    topic: Topic
    key: str | None
    event: Envelope
    partition: int | None = None
    """The partition to write to; None: the producer's partitioner picks it from the key. Set to
    reach every partition of a topic (a broadcast), or where a service places its own keys."""

    def value(self) -> bytes:
        return encode(self.event)


@dataclass(frozen=True, slots=True)
class Later:
    """Work a handler returns to be done once at the end of the batch for `key`, instead of once
    per event: e.g. a cost centre's figures after all of the batch's postings to it.

    The last `Later` of a key in the batch runs (earlier ones are superseded), after every message
    of the batch was handled, with its state writes attributed to the message that returned it.
    `work()` returns the outputs, like a handler. If that message's handler fails, its `Later` is
    dropped and an earlier one of the same key (if any) runs instead."""

    key: object
    work: Callable[[], list[Emit]]


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class Publisher(Protocol):
    """Sends a message; the returned awaitable completes when the broker has it."""

    def send(self, topic: str, key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]],
             partition: int | None = None) -> Awaitable[object]: ...
    """`partition` None: the producer's partitioner picks it from the key (Emit.partition)."""
