"""The batched consume path: records from faust's fetcher straight to the Processor.

faust delivers a record through its conductor (decode into an Event, a flow-controlled queue per
channel) and a Stream (a loop turn, sensors and an ack per record); `take_events` adds a buffer
task and timers on top. On this machine that path cost ~70 µs of CPU per record more than
handing the fetched records over in a list (bench/RESULTS.md, fourth round). A `BatchFeed` keeps
everything of faust that gives correctness — group membership, assignment, table recovery,
offset commits, flow control during a rebalance — and replaces only the per-record delivery:

- the conductor's callback for the feed's partitions appends the fetched record to a buffer
  (it waits while faust's flow control is suspended, as faust's own callback does);
- one agent task takes what has arrived (up to `batch_max`, no waiting for more: under a
  backlog the fetcher fills the buffer while a batch is processed, at a low rate a record goes
  alone at once), drops records of an older consumer generation or taken while a rebalance has
  suspended the flow (the consumer seeks back to the committed offset, so they come again),
  tracks the rest as unacknowledged (a rebalance or shutdown waits for them, `wait_empty`),
  processes them and acknowledges each one, from which faust commits the offsets.

A batch that raises (its outputs could not be published after the publisher's retries) is put
back at the front of the buffer before the agent crashes; faust restarts the agent, which
takes the same records again (state of the failed batch was rolled back by the Processor).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Sequence
from contextlib import contextmanager
from typing import Any

from shared.runtime import fetch_loop, hooks
from shared.service.processor import Message, Processor

BUFFER_BATCHES = 4
"""The fetch loop waits while this many batches of records are buffered (back-pressure)."""


class _EventRef:
    """What faust's store asks of the current event when writing: `.message.partition`."""

    __slots__ = ("message", "__weakref__")

    def __init__(self, message: Any) -> None:
        self.message = message


def install(app: Any, *, fetch_loop_hook: bool = True) -> dict[str, BatchFeed]:
    """Route the conductor's delivery of fed topics to their feeds (once per app).

    faust builds one callback per assigned partition; for a topic with a feed that callback is
    the feed's `deliver` (shared/runtime/hooks.py `route_conductor`). With `fetch_loop_hook` the
    fetcher hands records to the feeds in line (shared/runtime/fetch_loop.py). Returns the topic →
    feed registry."""
    feeds: dict[str, BatchFeed] | None = getattr(app, "_pn_feeds", None)
    if feeds is None:
        feeds = app._pn_feeds = {}

        def handler_for(tp: Any) -> Any:
            feed = feeds.get(tp.topic)
            return feed.deliver if feed is not None else None

        hooks.route_conductor(app, handler_for)
        if fetch_loop_hook:
            fetch_loop.install()
    return feeds


class BatchFeed:
    """Feeds the records of `topics` to `processor` in batches; `run` is the body of the agent
    whose channel subscribes them."""

    def __init__(self, app: Any, topics: Sequence[str], processor: Processor, *,
                 batch_max: int, before_batch: Callable[[], None] | None = None,
                 on_batch: Callable[[Sequence[Any]], None] | None = None,
                 fetch_loop_hook: bool = True,
                 wait_for: Callable[[], Awaitable[None]] | None = None) -> None:
        feeds = install(app, fetch_loop_hook=fetch_loop_hook)
        for topic in topics:
            if topic in feeds:
                raise ValueError(f"{topic} is already fed to a processor")
            feeds[topic] = self
        self._app = app
        self._registered: Any = None
        self._processor = processor
        self._batch_max = batch_max
        self._before_batch = before_batch
        self._on_batch = on_batch
        self._wait_for = wait_for  # awaited before the first batch (the worker's global stores loaded)
        self._buffer: list[Any] = []
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()

    def offer(self, message: Any) -> bool:
        """The fetch loop's hand-over in line (shared/runtime/fetch_loop.py): True if the record was
        taken; False when the flow is suspended or the buffer is full (then `deliver`, awaited)."""
        buffer = self._buffer
        if len(buffer) >= BUFFER_BATCHES * self._batch_max or not self._app.flow_control.is_active():
            return False
        buffer.append(message)
        self._arrived.set()
        return True

    async def deliver(self, message: Any) -> None:
        """The conductor's callback for one fetched record of a fed partition."""
        app = self._app
        await app.flow_control.acquire()  # suspended during a rebalance, as for faust's own callback
        self._buffer.append(message)
        self._arrived.set()
        while len(self._buffer) >= BUFFER_BATCHES * self._batch_max:
            self._room.clear()
            await self._room.wait()

    async def run(self, stream: Any) -> None:
        """The agent's body: subscribe the channel, then process batches until cancelled."""
        if self._registered is None:
            self._registered = aiter(stream.channel)  # adds it to the conductor, so the consumer subscribes
        if self._wait_for is not None:
            await self._wait_for()
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            while self._buffer:
                await self._process(self._take())

    def _take(self) -> list[Any]:
        buffer = self._buffer
        batch = buffer[:self._batch_max]
        del buffer[:self._batch_max]
        self._room.set()
        app = self._app
        if not app.flow_control.is_active():
            return []
        generation = app.consumer_generation_id
        return [m for m in batch if m.generation_id == generation]

    async def _process(self, batch: list[Any]) -> None:
        if not batch:
            return
        if self._before_batch is not None:
            self._before_batch()
        consumer = self._app.consumer
        unacked = consumer.unacked
        for message in batch:
            message.tracked = True
            unacked.add(message)
        try:
            await self._processor.process_batch([as_message(m) for m in batch], _in_context(batch))
        except BaseException:
            unacked.difference_update(batch)
            self._buffer[:0] = batch  # taken again by the restarted agent
            self._arrived.set()
            raise
        ack = consumer.ack
        for message in batch:
            ack(message)
        if self._on_batch is not None:
            self._on_batch(batch)


def as_message(m: Any) -> Message:
    """A fetched faust/aiokafka record as the Processor's Message."""
    return Message(m.topic, m.partition, m.offset, m.key, m.value, m.timestamp, m.headers or ())


def _in_context(batch: Sequence[Any]) -> Callable[[int], Any]:
    current_event = hooks.current_event_var()  # the context faust's RocksDB store reads a write's partition from
    @contextmanager
    def ctx(index: int) -> Any:
        ref = _EventRef(batch[index])
        token = current_event.set(weakref.ref(ref))
        try:
            yield
        finally:
            current_event.reset(token)

    return ctx
