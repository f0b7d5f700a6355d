"""The fetch loop's hand-over (shared/runtime/fetch_loop.py) on faust's own consumer, conductor and flow
control: fed records reach their feed in order, everything else takes faust's callback, offsets are kept
by faust's consumer as faust's loop keeps them. Only what would reach the broker is scripted: the
consumer's `getmany` (the fetches) and `commit`. The loop on a real broker runs in every integration and
crash test."""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from faust.transport.consumer import Fetcher
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from shared.runtime import fetch_loop, hooks
from shared.runtime.feed import BUFFER_BATCHES, BatchFeed

from .test_batch_feed import Recorder, committable, drain, new_app, record, subscribe, until


class ScriptedConsumer(AIOKafkaConsumer):
    """faust's aiokafka consumer with two public methods that would reach the broker scripted: `getmany`
    yields the test's fetches (one list per call; when they are used up it stops the fetcher, which ends
    the loop as faust's Fetcher.stop does), `commit` counts instead of sending offsets. Everything else
    the loop reads and keeps (read offsets, gaps, acks, commit-every, flags, flow) is faust's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fetches: list[list[ConsumerMessage]] = []
        self.fetcher: Fetcher | None = None
        self.commits = 0

    async def getmany(self, timeout: float) -> Any:
        if not self.fetches:
            assert self.fetcher is not None
            await self.fetcher.stop()
            return
        for message in self.fetches.pop(0):
            yield message.tp, message

    async def commit(self, topics: Any = None, start_new_transaction: bool = True) -> bool:
        self.commits += 1
        return False


def _app(**settings: Any) -> faust.App:
    app = new_app(**settings)
    app.transport.Consumer = ScriptedConsumer  # the class faust's transport builds `app.consumer` from
    return app


def _setup(batch_max: int = 10, **settings: Any) -> tuple[faust.App, BatchFeed]:
    app = _app(**settings)
    feed = BatchFeed(app, ["in"], Recorder(app), batch_max=batch_max)  # type: ignore[arg-type]
    return app, feed


async def _fetch(app: faust.App, *fetches: list[ConsumerMessage]) -> None:
    """The consumer's fetch loop over `fetches`, called as faust's Fetcher calls it:
    `consumer._drain_messages(fetcher)`, which BatchFeed has made fetch_loop._drain_messages. The
    Fetcher is faust's, never started; `getmany` stops it when the fetches are used up."""
    consumer = app.consumer
    assert isinstance(consumer, ScriptedConsumer)
    consumer.fetches = list(fetches)
    consumer.fetcher = Fetcher(app)
    await asyncio.wait_for(consumer._drain_messages(consumer.fetcher), 5)


def _offsets(feed: BatchFeed) -> list[int]:
    return [m.offset for m in feed._buffer]


async def test_fed_records_reach_the_feed_in_order_and_other_topics_take_faust_s_callback():
    app, feed = _setup()
    _fed, other = await subscribe(app, "in", "other")
    await _fetch(app, [record(app, 0), record(app, 7, "other"), record(app, 1)], [record(app, 2)])
    assert _offsets(feed) == [0, 1, 2]
    event = other.queue.get_nowait()  # faust's conductor decoded it into the subscribed channel
    assert (event.message.topic, event.message.offset) == ("other", 7) and other.queue.empty()
    await _fetch(app, [record(app, 1), record(app, 3)])
    assert _offsets(feed) == [0, 1, 2, 3]  # the read offset was kept: 1 is below it


async def test_a_record_below_the_read_offset_is_dropped_and_a_gap_is_recorded_for_acks():
    app, feed = _setup()
    await subscribe(app, "in")  # a topic with acks
    await _fetch(app, [record(app, 5), record(app, 6)], [record(app, 6), record(app, 4), record(app, 9)])
    assert _offsets(feed) == [5, 6, 6, 9]  # 6 again: faust delivers the last one read again
    await drain(feed)
    assert committable(app) == {TP("in", 0): 10}  # past the gap 7..8, as faust commits


async def test_a_full_buffer_takes_faust_s_callback_which_holds_the_loop_back():
    app, feed = _setup(batch_max=1)  # room for BUFFER_BATCHES records
    await subscribe(app, "in")
    loop = asyncio.ensure_future(_fetch(app, [record(app, o) for o in range(BUFFER_BATCHES + 1)]))
    # offer refuses the last one: faust's callback, the conductor's feed.deliver, appends it and waits
    # until the buffer is below BUFFER_BATCHES batches again
    await until(lambda: len(feed._buffer) == BUFFER_BATCHES + 1)
    await asyncio.sleep(0.01)
    assert not loop.done()
    await feed._process(feed._take())
    await asyncio.sleep(0.01)
    assert not loop.done()
    await feed._process(feed._take())
    await asyncio.wait_for(loop, 5)
    assert _offsets(feed) == list(range(2, BUFFER_BATCHES + 1))


async def test_a_suspended_flow_takes_faust_s_callback_which_waits_for_the_flow():
    app, feed = _setup()
    await subscribe(app, "in")
    app.flow_control.suspend()  # a rebalance begins
    loop = asyncio.ensure_future(_fetch(app, [record(app, 10)]))
    await asyncio.sleep(0.01)
    assert not feed._buffer and not loop.done()
    app.flow_control.resume()
    await asyncio.wait_for(loop, 5)
    assert _offsets(feed) == [10]
    app.flow_control.suspend()
    loop = asyncio.ensure_future(_fetch(app, [record(app, 11)]))
    await asyncio.sleep(0.01)
    app.consumer.stop_flow()  # and the consumer's flow: the record is let go (faust seeks back to it)
    await asyncio.wait_for(loop, 5)
    assert _offsets(feed) == [10]


async def test_offsets_are_committed_every_broker_commit_every_acked_records():
    app, feed = _setup(broker_commit_every=2)
    await subscribe(app, "in")
    await _fetch(app, [record(app, 0), record(app, 1)])
    await drain(feed)  # two records acked
    assert app.consumer.commits == 0
    await _fetch(app, [record(app, 2), record(app, 3), record(app, 4)])
    assert app.consumer.commits == 1  # before the first record; the count of acks starts again


async def test_an_app_without_feeds_runs_faust_s_own_loop(monkeypatch):
    ran = []

    async def faust_loop(consumer: Any, fetcher: Any) -> None:
        ran.append((consumer, fetcher))

    monkeypatch.setattr(hooks, "faust_drain_messages", lambda: faust_loop)
    app = _app()
    fetcher = Fetcher(app)
    await fetch_loop._drain_messages(app.consumer, fetcher)
    assert ran == [(app.consumer, fetcher)]


async def test_faust_s_own_loop_still_delivers_for_an_app_without_feeds():
    """Once the loop is installed, an app without feeds runs faust's own loop, not ours again
    (faust's is remembered before it is replaced: hooks.install_fetch_loop)."""
    fetch_loop.install()  # as any BatchFeed in this process does
    app = _app()
    (channel,) = await subscribe(app, "in")
    await _fetch(app, [record(app, 0), record(app, 1)])
    assert [channel.queue.get_nowait().message.offset for _ in range(2)] == [0, 1]
