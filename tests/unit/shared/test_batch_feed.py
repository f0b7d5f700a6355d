"""The batched feed's bookkeeping against faust's consumer (the broker path is in tests/integration
and tests/reliability): what is processed, what is acknowledged, what comes again."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from shared.runtime.feed import BatchFeed


class FlowControl:
    def __init__(self) -> None:
        self.active = True

    def is_active(self) -> bool:
        return self.active

    async def acquire(self) -> None:
        while not self.active:
            await asyncio.sleep(0.001)


class Consumer:
    def __init__(self) -> None:
        self.unacked: set[Any] = set()
        self.acked: list[int] = []

    def ack(self, message: Any) -> None:
        self.unacked.discard(message)
        self.acked.append(message.offset)


class App:
    def __init__(self) -> None:
        self.flow_control = FlowControl()
        self.consumer = Consumer()
        self.consumer_generation_id = 1
        self.topics = SimpleNamespace(_build_handler=lambda tp, channels: "faust's own")


class Record:
    def __init__(self, offset: int, generation: int = 1) -> None:
        self.topic, self.partition, self.offset = "in", 0, offset
        self.key, self.value, self.timestamp, self.headers = b"k", b"{}", 0.0, None
        self.generation_id, self.tracked = generation, False
        self.tp = SimpleNamespace(topic="in", partition=0)


class Recorder:
    """A Processor stand-in: records the offsets of each batch; fails the batches it is told to."""

    def __init__(self, app: App, fail: int = 0) -> None:
        self.app, self.fail, self.batches = app, fail, []
        self.unacked_while_processing: list[int] = []

    async def process_batch(self, messages: Any, in_context: Any) -> None:
        self.unacked_while_processing.append(len(self.app.consumer.unacked))
        if self.fail:
            self.fail -= 1
            raise ConnectionError("outputs not acknowledged")
        self.batches.append([m.offset for m in messages])


def _feed(app: App, proc: Recorder, batch_max: int = 3) -> BatchFeed:
    return BatchFeed(app, ["in"], proc, batch_max=batch_max)  # type: ignore[arg-type]


async def _deliver(feed: BatchFeed, records: list[Record]) -> None:
    for r in records:
        await feed.deliver(r)


async def _drain(feed: BatchFeed) -> None:
    while feed._buffer:
        await feed._process(feed._take())


async def test_the_conductor_hands_fed_topics_to_the_feed_and_others_to_faust():
    app = App()
    feed = _feed(app, Recorder(app))
    build = app.topics._build_handler
    assert build(SimpleNamespace(topic="in"), set()) == feed.deliver
    assert build(SimpleNamespace(topic="other"), set()) == "faust's own"
    with pytest.raises(ValueError, match="already fed"):
        _feed(app, Recorder(app))


async def test_what_has_arrived_is_processed_in_batches_of_at_most_batch_max_then_acked():
    app = App()
    proc = Recorder(app)
    feed = _feed(app, proc)
    await _deliver(feed, [Record(o) for o in range(7)])
    await _drain(feed)
    assert proc.batches == [[0, 1, 2], [3, 4, 5], [6]]
    assert proc.unacked_while_processing == [3, 3, 1]  # a rebalance or shutdown waits for these
    assert app.consumer.acked == list(range(7)) and not app.consumer.unacked


async def test_records_of_an_older_generation_or_taken_while_the_flow_is_suspended_are_dropped():
    app = App()
    proc = Recorder(app)
    feed = _feed(app, proc, batch_max=10)
    await _deliver(feed, [Record(0, generation=1), Record(1, generation=2), Record(2, generation=2)])
    app.consumer_generation_id = 2  # a rebalance: the consumer seeks back, they come again
    await _drain(feed)
    assert proc.batches == [[1, 2]] and app.consumer.acked == [1, 2]
    await _deliver(feed, [Record(3, generation=2)])
    app.flow_control.active = False
    await _drain(feed)
    assert proc.batches == [[1, 2]] and app.consumer.acked == [1, 2]


async def test_a_failed_batch_is_not_acked_and_is_taken_again_first():
    app = App()
    proc = Recorder(app, fail=1)
    feed = _feed(app, proc)
    await _deliver(feed, [Record(o) for o in range(4)])
    with pytest.raises(ConnectionError):
        await _drain(feed)
    assert app.consumer.acked == [] and not app.consumer.unacked
    await _drain(feed)  # the restarted agent
    assert proc.batches == [[0, 1, 2], [3]] and app.consumer.acked == [0, 1, 2, 3]


async def test_delivery_waits_while_the_flow_is_suspended_and_while_the_buffer_is_full():
    app = App()
    feed = _feed(app, Recorder(app), batch_max=1)  # room for BUFFER_BATCHES records
    app.flow_control.active = False
    waiting = asyncio.ensure_future(feed.deliver(Record(0)))
    await asyncio.sleep(0.01)
    assert not feed._buffer and not waiting.done()
    app.flow_control.active = True
    await asyncio.wait_for(waiting, 1)
    await _deliver(feed, [Record(o) for o in range(1, 3)])
    blocked = asyncio.ensure_future(feed.deliver(Record(3)))
    await asyncio.sleep(0.01)
    assert not blocked.done()  # the fetch loop holds back
    await feed._process(feed._take())
    await asyncio.wait_for(blocked, 1)


async def test_the_agent_body_processes_what_arrives_until_cancelled():
    app = App()
    proc = Recorder(app)
    feed = _feed(app, proc)
    stream = SimpleNamespace(channel=SimpleNamespace(__aiter__=None))
    feed._registered = object()  # the channel is subscribed by faust in a worker
    task = asyncio.ensure_future(feed.run(stream))
    await _deliver(feed, [Record(o) for o in range(4)])
    for _ in range(100):
        if len(app.consumer.acked) == 4:
            break
        await asyncio.sleep(0.005)
    task.cancel()
    assert proc.batches == [[0, 1, 2], [3]]
