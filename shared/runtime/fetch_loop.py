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
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.transport.consumer import CONSUMER_FETCHING

from shared.runtime import hooks

YIELD_EVERY = 100
"""Records handed over between two turns of the event loop (faust's value)."""



def install() -> None:
    """Use this loop for every consumer whose app has feeds (idempotent; shared/runtime/hooks.py)."""
    hooks.install_fetch_loop(_drain_messages)


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
    callback = consumer.callback
    consumer_stopped, fetcher_stopped = consumer._stopped.is_set, fetcher._stopped.is_set
    read_offsets = consumer._read_offset  # a defaultdict: None for a partition not read yet
    acks_enabled_for = consumer.app.topics.acks_enabled_for
    commit_every = consumer._commit_every
    diag = consumer.diag
    since_yield = 0
    while not (consumer_stopped() or fetcher_stopped()):
        diag.set_flag(CONSUMER_FETCHING)
        records = consumer.getmany(timeout=1.0)
        await asyncio.sleep(0)  # getmany may return at once, again and again
        if consumer.should_stop:
            continue
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
        diag.unset_flag(CONSUMER_FETCHING)
