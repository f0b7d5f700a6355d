"""The fetch loop's hand-over (shared/runtime/fetch_loop.py) against a consumer stand-in: fed records reach
their feed in order, everything else takes faust's callback, offsets are kept as faust keeps them.
The loop on a real broker runs in every integration and crash test."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from shared.runtime import fetch_loop
from shared.runtime.feed import BUFFER_BATCHES, BatchFeed

from .test_batch_feed import App, Record, Recorder


class Flag:
    def __init__(self) -> None:
        self.set_ = False

    def is_set(self) -> bool:
        return self.set_


class Consumer:
    """What the loop uses of faust's consumer; `rounds` are the records of successive fetches."""

    consumer_stopped_errors = ()

    def __init__(self, app: Any, rounds: list[list[Record]], *, acks: bool = False, commit_every: int | None = None):
        self.app, self.rounds = app, list(rounds)
        self.app.topics.acks_enabled_for = lambda topic: acks
        self._stopped, self.should_stop = Flag(), False
        self._read_offset: dict[Any, int | None] = defaultdict(lambda: None)
        self._commit_every, self._n_acked, self.commits = commit_every, 0, 0
        self.gaps: list[tuple[int, int]] = []
        self.by_callback: list[tuple[str, int]] = []
        self.diag = SimpleNamespace(set_flag=lambda flag: None, unset_flag=lambda flag: None)
        self.suspend_flow = asyncio.Event()
        self.transport = SimpleNamespace(app=app)
        self.log = SimpleNamespace(info=print, exception=print)

    async def getmany(self, timeout: float) -> Any:
        records = self.rounds.pop(0)
        if not self.rounds:
            self._stopped.set_ = True  # the loop ends after this fetch
        for r in records:
            yield TP(r.tp.topic, r.tp.partition), r

    async def callback(self, message: Any) -> None:
        self.by_callback.append((message.topic, message.offset))

    async def wait_first(self, *coros: Any) -> None:
        await coros[0]
        coros[1].close()

    async def _add_gap(self, tp: Any, start: int, end: int) -> None:
        self.gaps.append((start, end))

    async def commit(self) -> None:
        self.commits += 1


def _record(offset: int, topic: str = "in") -> Record:
    r = Record(offset)
    r.topic = topic
    r.tp = SimpleNamespace(topic=topic, partition=0)
    return r


def _setup(batch_max: int = 10) -> tuple[App, BatchFeed]:
    app = App()
    feed = BatchFeed(app, ["in"], Recorder(app), batch_max=batch_max)  # type: ignore[arg-type]
    return app, feed


async def _run(consumer: Consumer) -> None:
    await asyncio.wait_for(fetch_loop._drain_messages(consumer, SimpleNamespace(_stopped=Flag())), 5)


async def test_fed_records_reach_the_feed_in_order_and_other_topics_take_faust_s_callback():
    app, feed = _setup()
    consumer = Consumer(app, [[_record(0), _record(7, "other"), _record(1)], [_record(2)]])
    await _run(consumer)
    assert [m.offset for m in feed._buffer] == [0, 1, 2]
    assert consumer.by_callback == [("other", 7)]
    assert consumer._read_offset[TP("in", 0)] == 2


async def test_a_record_below_the_read_offset_is_dropped_and_a_gap_is_recorded_for_acks():
    app, feed = _setup()
    consumer = Consumer(app, [[_record(5), _record(6)], [_record(6), _record(4), _record(9)]], acks=True)
    await _run(consumer)
    assert [m.offset for m in feed._buffer] == [5, 6, 6, 9]  # 6 again: faust delivers the last one read again
    assert consumer.gaps == [(7, 9)]


async def test_a_full_buffer_or_a_suspended_flow_takes_the_awaited_way():
    app, feed = _setup(batch_max=1)
    full = [_record(o) for o in range(BUFFER_BATCHES)]
    consumer = Consumer(app, [full + [_record(BUFFER_BATCHES)]])
    await _run(consumer)
    assert consumer.by_callback == [("in", BUFFER_BATCHES)]  # faust's conductor calls feed.deliver
    app.flow_control.active = False
    feed._buffer.clear()
    consumer = Consumer(app, [[_record(10)]])
    await _run(consumer)
    assert consumer.by_callback == [("in", 10)] and not feed._buffer


async def test_offsets_are_committed_every_broker_commit_every_acked_records():
    app, _feed = _setup()
    consumer = Consumer(app, [[_record(0), _record(1)]], commit_every=2)
    consumer._n_acked = 2
    await _run(consumer)
    assert consumer.commits == 1 and consumer._n_acked == 0


async def test_an_app_without_feeds_runs_faust_s_own_loop(monkeypatch):
    ran = []

    async def faust_loop(consumer: Any, fetcher: Any) -> None:
        ran.append(consumer)

    monkeypatch.setattr(fetch_loop, "_faust_drain", faust_loop)
    consumer = SimpleNamespace(app=SimpleNamespace())
    await fetch_loop._drain_messages(consumer, None)
    assert ran == [consumer]
