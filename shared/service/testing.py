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
    partition: int | None = None

    @property
    def event(self) -> Envelope:
        return decode(self.value)


@dataclass
class FakePublisher:
    """Records what the wrapper publishes. `fail_with` makes every send raise (broker down)."""

    sent: list[Sent] = field(default_factory=list)
    fail_with: Exception | None = None

    def send(self, topic: str, key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]],
             partition: int | None = None) -> Any:
        fut: asyncio.Future = asyncio.get_event_loop().create_future()
        if self.fail_with is not None:
            fut.set_exception(self.fail_with)
        else:
            self.sent.append(Sent(topic, key, value, headers, partition))
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


class InMemoryRuntime:
    """A service's wiring without faust (shared/service/wiring.py `Wiring`): stores over dicts,
    one recording publisher, a fixed clock. Unit tests call the service's own `wire` on it, then
    `deliver` events to the processor its agents would feed, and `pump` to hand what the service
    published on a topic it also consumes (its internal hops) back to it, as Kafka would.

    `tables` (name → dict) outlive a runtime: a new runtime over the same tables is the service
    restarted with its committed state (staged writes die with the old one)."""

    def __init__(self, spec: Any, settings: Any, *, clock: Any = None, publisher: FakePublisher | None = None,
                 tables: dict[str, dict[str, Any]] | None = None) -> None:
        from shared.service.logging import get_logger

        self.spec, self.service, self.settings = spec, spec.name, settings
        self.clock = clock or FixedClock()
        self.sent = publisher or FakePublisher()
        self.log = get_logger(service=spec.name)
        self.tables = {} if tables is None else tables
        self.stores: dict[str, Any] = {}
        self.global_stores: dict[str, Any] = {}  # name → the reference topic whose processor writes it
        self.feeds: dict[str, Any] = {}  # topic name → processor
        self.routes: dict[tuple[str, str], tuple[Any, Any, Any]] = {}
        self.docs: dict[tuple[str, str], Any] = {}
        self.spreads: dict[tuple[str, str], tuple[str, Any]] = {}
        self.ticks: list[float] = []
        self._processor: Any = None
        self._pumped = 0

    # -- the Wiring port
    def store(self, name: str, partitions: int) -> Any:
        from shared.service.state import Store

        store = self.stores[name] = Store(name, self.tables.setdefault(name, {}))
        return store

    def global_store(self, name: str, topic: Any) -> Any:
        """One dict, as for `store`: a unit test runs one worker, which holds every partition.
        (What a global store adds on faust, every key on every worker one fetch after its write,
        is the runtime's business: tests/unit/shared/test_global_store.py.)"""
        self.global_stores[name] = topic
        return self.store(name, topic.partitions)

    def processor(self, handlers: Any, deps: Any, *, stores: Sequence[Any] | None = None) -> Any:
        from shared.service.processor import Processor

        self._processor = Processor(service=self.service, handlers=handlers, deps=deps, publisher=self.sent,
                                    clock=self.clock, stores=list(self.stores.values() if stores is None else stores))
        return self._processor

    def consume(self, *topics: Any, processor: Any = None, idempotent: bool = False, seen_in: Any = None) -> None:
        from shared.service.wiring import attach_seen_store

        proc = processor or self._processor
        attach_seen_store(proc, topics, idempotent=idempotent, seen_in=seen_in, stores=self.stores,
                          new_store=self.store)
        for topic in topics:
            self.feeds[topic.name] = proc

    def tick_every(self, seconds: float) -> None:
        self.ticks.append(seconds)

    def route(self, method: str, path: str, handler: Any, *, role: Any, audit: str | None = None,
              doc: Any = None, spread: str = "local", merge: Any = None) -> None:
        """Recorded; `spread`/`merge` (how several workers complete the answer) in `spreads`."""
        self.routes[(method.upper(), path)] = (handler, role, audit)
        self.docs[(method.upper(), path)] = doc
        self.spreads[(method.upper(), path)] = (spread, merge)

    def publisher(self) -> FakePublisher:
        return self.sent

    # -- driving it
    def processor_for(self, topic: Any) -> Any:
        return self.feeds[getattr(topic, "name", topic)]

    async def deliver(self, topic: Any, *events: EventData | Envelope | bytes, **kwargs: Any) -> None:
        """These events as one batch of `topic`, to the processor that consumes it."""
        await self.processor_for(topic).process_batch([message(topic, e, **kwargs) for e in events])

    async def pump(self, *, one_by_one: bool = False) -> int:
        """Deliver every record published since the last pump on a topic this service consumes,
        in publish order, consecutive records of one processor as one batch (as a fetch would
        hand them over; `one_by_one`: a batch each); until nothing new arrives. Returns how
        many were delivered."""
        delivered = 0
        while self._pumped < len(self.sent.sent):
            pending = self.sent.sent[self._pumped:]
            self._pumped = len(self.sent.sent)
            runs: list[tuple[Any, list[Message]]] = []
            for record in pending:
                if record.topic not in self.feeds:
                    continue
                proc = self.processor_for(record.topic)
                if one_by_one or not runs or runs[-1][0] is not proc:
                    runs.append((proc, []))
                runs[-1][1].append(message(record.topic, record.value, key=record.key,
                                           partition=record.partition or 0))
            for proc, batch in runs:
                await proc.process_batch(batch)
                delivered += len(batch)
        return delivered
