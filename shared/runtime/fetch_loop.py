"""The fetcher's loop, handing records of fed topics to their BatchFeed in line.

faust's loop (`Consumer._drain_messages`) awaits each record's callback under `wait_first`,
which wraps four awaitables in tasks per record (the callback, the flow's suspension, the
consumer's stop and its crash), waits for the first and cancels the other three; the
conductor's callback then takes a lock to find the partition's handler. A py-spy and a cProfile
of a diary worker put that at the top of what a record costs us (bench/RESULTS.md, sixth round).
For a topic with a feed (shared/runtime/feed.py) the record is appended to the feed's buffer
directly when the flow is active and the buffer has room; anything else (topics without a feed,
a full buffer, a suspended flow) goes faust's way, so back-pressure and a rebalance behave as
before. Everything else the loop does is kept: the read offset per partition (a record below it
was fetched again after a seek and is dropped), the gaps between offsets of topics with acks
(faust commits past them), a commit every `broker_commit_every` acknowledged records, and a
yield to the event loop every `YIELD_EVERY` records.

Apps without feeds run faust's own loop unchanged.

A partition the client cannot read past (a record batch it cannot decode, a corrupt record) does
not crash the loop: aiokafka's `FetchResult.getall` is wrapped so that the error does not escape
`fetched_records` (which would drop the records it had already taken of other partitions, past
their positions: lost) but is kept, naming its partition (`PartitionUnreadable`). After handing
over what was fetched, the loop pauses that partition, marks it stalled and reports it
(shared/runtime/stalled.py), and goes on with the others. Records read before the bad batch are
delivered.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from faust.transport.consumer import CONSUMER_FETCHING

from shared.runtime import hooks
from shared.runtime.stalled import registry

YIELD_EVERY = 100
"""Records handed over between two turns of the event loop (faust's value)."""


class PartitionUnreadable(Exception):
    """The client failed below any record: `offset` is the first offset it could not read,
    `skip_to` the offset after the failing record batch when known."""

    def __init__(self, tp: Any, offset: int, skip_to: int | None, cause: BaseException) -> None:
        super().__init__(f"{tp.topic}[{tp.partition}]@{offset}: {type(cause).__name__}: {cause}")
        self.tp, self.offset, self.skip_to, self.cause = tp, offset, skip_to, cause


def install() -> None:
    """Use this loop for every consumer whose app has feeds, and aiokafka's batch reader that keeps
    an unreadable batch's failure instead of raising (idempotent; shared/runtime/hooks.py)."""
    hooks.install_fetch_loop(_drain_messages)
    hooks.install_fetch_result_getall(_getall)


_unreadable: deque[PartitionUnreadable] = deque()
"""Failures met by `_getall` in the client's thread, taken by the fetch loop (deque: thread-safe)."""


def _getall(self: Any, max_records: int | None = None) -> list[Any]:
    """aiokafka's `FetchResult.getall` (0.14.0), keeping a `PartitionUnreadable` for a record batch
    it cannot unpack instead of raising; returns the records read before it."""
    if not self.check_assignment(self._topic_partition) or not self.has_more():
        return []
    records = self._partition_records
    taken: list[Any] = []
    try:
        for msg in records:
            taken.append(msg)
            if max_records is not None and len(taken) >= max_records:
                self._update_position()
                return taken
    except Exception as exc:
        # the iterator is dead: no more records from this fetch. Position moves to the failing
        # batch; the next fetch of the partition starts there and fails again, until the loop has
        # paused the partition (then the fetcher keeps one result for it and fetches no more)
        self._update_position()
        self._partition_records = None
        _unreadable.append(PartitionUnreadable(self._topic_partition, records.next_fetch_offset,
                                               _batch_end(exc), exc))
        return taken
    self._update_position()
    self._partition_records = None
    return taken


def _batch_end(exc: BaseException) -> int | None:
    """The offset after the batch aiokafka was unpacking (its `next_batch` local), if found."""
    tb = exc.__traceback__
    while tb is not None:
        batch = tb.tb_frame.f_locals.get("next_batch")
        end = getattr(batch, "next_offset", None)
        if isinstance(end, int):
            return end
        tb = tb.tb_next
    return None


async def _drain_messages(self: Any, fetcher: Any) -> None:
    feeds = getattr(self.app, "_pn_feeds", None)
    if not feeds:
        await hooks.faust_drain_messages()(self, fetcher)
        return
    try:
        await _drain(self, fetcher, feeds)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        self.diag.unset_flag(CONSUMER_FETCHING)


async def _drain(consumer: Any, fetcher: Any, feeds: dict[str, Any]) -> None:
    consumer_stopped, fetcher_stopped = consumer._stopped.is_set, fetcher._stopped.is_set
    diag = consumer.diag
    since_yield = 0
    while not (consumer_stopped() or fetcher_stopped()):
        diag.set_flag(CONSUMER_FETCHING)
        records = consumer.getmany(timeout=1.0)
        await asyncio.sleep(0)  # getmany may return at once, again and again
        if consumer.should_stop:
            continue
        since_yield = await _hand_over(consumer, records, feeds, since_yield)
        while _unreadable:
            await stall(consumer, _unreadable.popleft())
        diag.unset_flag(CONSUMER_FETCHING)


async def stall(consumer: Any, exc: PartitionUnreadable) -> None:
    """Pause the unreadable partition and report it; the other partitions go on. Where the
    operator allowed it (PN_SKIP_OFFSETS), seek past the batch instead: its offsets become a gap
    faust commits past, as it does for offsets a compacted topic no longer has."""
    tp = consumer._new_topicpartition(exc.tp.topic, exc.tp.partition)
    if tp not in consumer.assignment():
        return  # revoked meanwhile: its next owner meets the batch
    stalled = registry(consumer.app)
    to = stalled.allowed_skip(tp.topic, tp.partition, exc.offset)
    if to is None:
        consumer.pause_partitions([tp])
        await stalled.mark(tp.topic, tp.partition, exc.offset, exc.skip_to, exc.cause)
        return
    if consumer.app.topics.acks_enabled_for(tp.topic):
        await consumer._add_gap(tp, exc.offset, to - 1)
    consumer._read_offset[tp] = to - 1  # the loop adds no second gap for the record at `to`
    await _seek_in_client_thread(consumer, tp, to)
    stalled.skipped(tp.topic, tp.partition, exc.offset, to, exc.cause)


async def _seek_in_client_thread(consumer: Any, tp: Any, offset: int) -> None:
    """aiokafka's seek in the thread whose event loop runs the client (faust's `_seek` calls it
    from the app's thread, where the fetcher's wake-up future belongs to another loop)."""
    thread = getattr(consumer, "_thread", None)
    call_thread = getattr(thread, "call_thread", None)
    if call_thread is None:
        await consumer._seek(tp, offset)
        return

    async def seek() -> None:
        thread._ensure_consumer().seek(tp, offset)

    await call_thread(seek)


async def _hand_over(consumer: Any, records: Any, feeds: dict[str, Any], since_yield: int) -> int:
    callback = consumer.callback
    read_offsets = consumer._read_offset  # a defaultdict: None for a partition not read yet
    acks_enabled_for = consumer.app.topics.acks_enabled_for
    commit_every = consumer._commit_every
    async for tp, message in records:
        since_yield += 1
        if since_yield > YIELD_EVERY:
            await asyncio.sleep(0)
            since_yield = 0
        offset, read = message.offset, read_offsets[tp]
        if read is not None and offset < read:
            continue  # fetched again after a seek: delivered before
        if read and offset - read > 1 and acks_enabled_for(message.topic):
            await consumer._add_gap(tp, read + 1, offset)
        if commit_every is not None and consumer._n_acked >= commit_every:
            consumer._n_acked = 0
            await consumer.commit()
        feed = feeds.get(tp.topic)
        if feed is None or not feed.offer(message):
            await consumer.wait_first(callback(message), consumer.suspend_flow.wait())
        read_offsets[tp] = offset
    return since_yield
