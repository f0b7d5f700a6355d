"""The batched feed (shared/runtime/feed.py) on faust's own objects: a real app, its conductor, its flow
control and its aiokafka consumer. Nothing here starts the app, so nothing connects to its broker (faust
builds all of these lazily and they stay idle). What is processed, what is acknowledged (faust's own
bookkeeping says what it would commit), what comes again. The broker path is in tests/integration and
tests/reliability."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import faust
import pytest
from faust.streams import current_event
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from shared.runtime.feed import BatchFeed

# -- shared with test_fetch_loop.py ------------------------------------------------------------------


def new_app(**settings: Any) -> faust.App:
    """A real faust app (a new one per test: the feed registry and the conductor routing are per app).
    Port 1 has no broker; nothing in these tests starts the app, so nothing tries it."""
    return faust.App(f"t-{uuid.uuid4().hex[:8]}", broker="kafka://127.0.0.1:1", store="memory://",
                     autodiscover=False, **settings)


async def subscribe(app: faust.App, *topics: str, partitions: Sequence[int] = (0,)) -> list[Any]:
    """The agents' channels of `topics` subscribe (`aiter(topic)`, as faust's agents and BatchFeed.run
    do), then `assign`. Returns the channels, whose queues faust's own delivery fills."""
    channels = [aiter(app.topic(t)) for t in topics]
    await assign(app, partitions)
    return channels


async def assign(app: faust.App, partitions: Sequence[int] = (0,)) -> None:
    """What a worker does with its subscribed channels before records arrive, short of the broker: the
    conductor indexes them (which topics take acks), `partitions` of each are assigned (the conductor
    builds a delivery callback per partition: faust's own, or a feed's through `route_conductor`), and
    the flow, suspended until then, resumes."""
    conductor = app.topics
    # The one private call: the step of faust's Conductor._subscriber task between the agents' start and
    # the consumer's subscription at the broker (which this test cannot make); no public call indexes.
    await conductor._update_indices()
    topics = {t for channel in conductor for t in channel.topics}
    await conductor.on_partitions_assigned({TP(t, p) for t in topics for p in partitions})
    app.flow_control.resume()


def record(app: faust.App, offset: int, topic: str = "in", *, partition: int = 0,
           generation: int | None = None) -> ConsumerMessage:
    """A fetched record as faust's aiokafka consumer makes it (`Consumer._to_message`): of the consumer
    generation current when it was fetched, unless `generation` says otherwise."""
    return ConsumerMessage(topic, partition, offset, 0.0, 0, [], b"k", b"{}", None, tp=TP(topic, partition),
                           generation_id=app.consumer_generation_id if generation is None else generation)


def committable(app: faust.App, topic: str = "in", partition: int = 0) -> dict[TP, int]:
    """The offset faust's consumer would commit for a partition now: what its `commit()` computes from
    the acks and gaps before it calls the broker. Like a commit, it uses up the acks it counts."""
    return app.consumer._filter_committable_offsets([TP(topic, partition)])


class Recorder:
    """A Processor stand-in (the Processor's own tests are tests/unit/shared/test_processor.py): records
    the offsets of each batch, how many records faust's consumer holds unacknowledged meanwhile and what
    faust's `current_event()` (read by its RocksDB store for a write's partition) says in each record's
    context; fails the batches it is told to."""

    def __init__(self, app: faust.App, fail: int = 0) -> None:
        self.app, self.fail, self.batches = app, fail, []
        self.unacked_while_processing: list[int] = []
        self.in_context: list[tuple[int, int]] = []
        self.outside_context: list[Any] = []

    async def process_batch(self, messages: Any, in_context: Any) -> None:
        self.unacked_while_processing.append(len(self.app.consumer.unacked))
        for i, m in enumerate(messages):
            with in_context(i):
                event = current_event()
                self.in_context.append((m.offset, event.message.partition))
            self.outside_context.append(current_event())
        if self.fail:
            self.fail -= 1
            raise ConnectionError("outputs not acknowledged")
        self.batches.append([m.offset for m in messages])


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.002)):
        if condition():
            return
        await asyncio.sleep(0.002)
    raise AssertionError("condition not reached")


async def drain(feed: BatchFeed) -> None:
    """What the feed's agent does with what has arrived (BatchFeed.run, without waiting for more)."""
    while feed._buffer:
        await feed._process(feed._take())


# ----------------------------------------------------------------------------------------------------


def _feed(app: faust.App, proc: Recorder, batch_max: int = 3) -> BatchFeed:
    return BatchFeed(app, ["in"], proc, batch_max=batch_max)  # type: ignore[arg-type]


async def _deliver(app: faust.App, records: list[ConsumerMessage]) -> None:
    """Through the consumer's callback, as faust's own fetch loop delivers: the conductor's `on_message`."""
    for r in records:
        await app.consumer.callback(r)


def _acked(records: list[ConsumerMessage]) -> list[int]:
    return [r.offset for r in records if r.acked]


async def test_the_conductor_hands_fed_topics_to_the_feed_and_others_to_faust():
    app = new_app()
    feed = _feed(app, Recorder(app))
    fed_channel, other_channel = await subscribe(app, "in", "other")
    fed, other = record(app, 0), record(app, 1, "other")
    await _deliver(app, [fed, other])
    assert feed._buffer == [fed] and fed_channel.queue.empty()
    assert other_channel.queue.get_nowait().message is other  # faust's own handler: decoded, queued
    with pytest.raises(ValueError, match="already fed"):
        _feed(app, Recorder(app))


async def test_what_has_arrived_is_processed_in_batches_of_at_most_batch_max_then_acked():
    app = new_app()
    proc = Recorder(app)
    feed = _feed(app, proc)
    await subscribe(app, "in")
    records = [record(app, o) for o in range(7)]
    await _deliver(app, records)
    await drain(feed)
    assert proc.batches == [[0, 1, 2], [3, 4, 5], [6]]
    assert proc.unacked_while_processing == [3, 3, 1]  # a rebalance or shutdown waits for these
    assert _acked(records) == list(range(7)) and not app.consumer.unacked
    assert committable(app) == {TP("in", 0): 7}


async def test_records_of_an_older_generation_or_taken_while_the_flow_is_suspended_are_dropped():
    app = new_app()
    proc = Recorder(app)
    feed = _feed(app, proc, batch_max=10)
    await subscribe(app, "in")
    app.consumer_generation_id = 1
    records = [record(app, 0), record(app, 1, generation=2), record(app, 2, generation=2)]
    await _deliver(app, records)
    app.consumer_generation_id = 2  # a rebalance: the consumer seeks back, they come again
    await drain(feed)
    assert proc.batches == [[1, 2]] and _acked(records) == [1, 2]
    late = record(app, 3)
    await _deliver(app, [late])
    app.flow_control.suspend()  # the next rebalance begins
    await drain(feed)
    assert proc.batches == [[1, 2]] and not late.acked and not feed._buffer
    assert committable(app) == {TP("in", 0): 3}


async def test_a_failed_batch_is_not_acked_and_is_taken_again_first():
    app = new_app()
    proc = Recorder(app, fail=1)
    feed = _feed(app, proc)
    await subscribe(app, "in")
    records = [record(app, o) for o in range(4)]
    await _deliver(app, records)
    with pytest.raises(ConnectionError):
        await drain(feed)
    assert _acked(records) == [] and not app.consumer.unacked and committable(app) == {}
    assert feed._buffer == records  # put back at the front
    await drain(feed)  # the restarted agent
    assert proc.batches == [[0, 1, 2], [3]] and _acked(records) == [0, 1, 2, 3]
    assert committable(app) == {TP("in", 0): 4}


async def test_delivery_waits_while_the_flow_is_suspended_and_while_the_buffer_is_full():
    app = new_app()
    feed = _feed(app, Recorder(app), batch_max=1)  # room for BUFFER_BATCHES records
    await subscribe(app, "in")
    app.flow_control.suspend()
    waiting = asyncio.ensure_future(_deliver(app, [record(app, 0)]))
    await asyncio.sleep(0.01)
    assert not feed._buffer and not waiting.done()
    app.flow_control.resume()
    await asyncio.wait_for(waiting, 5)
    await _deliver(app, [record(app, o) for o in range(1, 3)])
    blocked = asyncio.ensure_future(_deliver(app, [record(app, 3)]))
    await asyncio.sleep(0.01)
    assert not blocked.done()  # the fetch loop holds back
    await feed._process(feed._take())
    await asyncio.wait_for(blocked, 5)


async def test_each_record_s_writes_go_to_its_own_partition():
    app = new_app()
    proc = Recorder(app)
    feed = _feed(app, proc)
    await subscribe(app, "in", partitions=(0, 1))
    await _deliver(app, [record(app, 0, partition=1), record(app, 0), record(app, 1, partition=1)])
    await drain(feed)
    assert proc.in_context == [(0, 1), (0, 0), (1, 1)]  # what faust's RocksDB store reads for a write
    assert proc.outside_context == [None, None, None]


async def test_the_agent_body_subscribes_its_channel_and_processes_what_arrives_until_cancelled():
    app = new_app()
    proc = Recorder(app)
    feed = _feed(app, proc)
    task = asyncio.ensure_future(feed.run(app.stream(app.topic("in"))))
    await asyncio.sleep(0)
    assert feed._registered in app.topics  # the consumer subscribes what the conductor holds
    await assign(app)
    records = [record(app, o) for o in range(4)]
    await _deliver(app, records)
    await until(lambda: len(_acked(records)) == 4)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert proc.batches == [[0, 1, 2], [3]]
