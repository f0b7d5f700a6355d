"""A partition the client cannot read past (shared/runtime/stalled.py, shared/runtime/fetch_loop.py), without a
broker: the loop pauses it and goes on, or skips it where PN_SKIP_OFFSETS allows. On faust's own objects
(tests/unit/shared/test_fetch_loop.py): its consumer keeps the read offsets, gaps, acks and paused
partitions; its consumer thread holds an aiokafka client that is never started. The real client on the
real broker: tests/integration/test_real_producers.py."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CorruptRecordException
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from shared.runtime import fetch_loop
from shared.runtime.feed import BatchFeed
from shared.runtime.stalled import alert_for, parse_skips, registry

from .test_batch_feed import committable, drain, record, subscribe
from .test_fetch_loop import ScriptedConsumer, _fetch, _setup


class RecordingClient(AIOKafkaConsumer):
    """aiokafka's consumer as faust's consumer thread holds it, never started: its assignment is aiokafka's
    own (`assign`, manual, as no group coordinator runs without a broker). Only `seek` is recorded: aiokafka's
    hands it to the Fetcher that `start()` makes, which connects to the broker."""

    def __init__(self) -> None:
        super().__init__(bootstrap_servers="127.0.0.1:1")
        self.seeks: list[tuple[Any, int]] = []

    def seek(self, partition: Any, offset: int) -> None:
        self.seeks.append((partition, offset))


class UnstartedClientThread(AIOKafkaConsumerThread):
    """faust's consumer thread, never started (starting it starts the aiokafka client, which connects).
    Only `call_thread` differs: what faust would queue for the client's thread (fetch_loop's seek) runs
    here, on the test's loop, as there is no such thread."""

    async def call_thread(self, fun: Any, *args: Any, **kwargs: Any) -> Any:
        return await fun(*args, **kwargs)


class StallingConsumer(ScriptedConsumer):
    """The scripted consumer whose `fail_at`-th fetch also meets an unreadable batch of ("in", 1) at 40
    (the next batch at 43), reported as fetch_loop._getall reports it in the client's thread: in
    fetch_loop._unreadable. `assignment()` and `pause_partitions` are faust's own."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fail_at, self.round = 0, 0

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return UnstartedClientThread(self, loop=self.loop, beacon=self.beacon)

    async def getmany(self, timeout: float) -> Any:
        self.round += 1
        if self.round == self.fail_at:
            error = CorruptRecordException("Invalid CRC")
            fetch_loop._unreadable.append(fetch_loop.PartitionUnreadable(TP("in", 1), 40, 43, error))
        async for item in super().getmany(timeout):
            yield item


async def _stalling(fail_at: int, assigned: tuple[int, ...] = (0, 1),
                    ) -> tuple[faust.App, BatchFeed, StallingConsumer]:
    """An app whose consumer fails at its `fail_at`-th fetch; "in" (a topic with acks) subscribed with
    partitions 0 and 1 and its client assigned `assigned` of them."""
    app, feed = _setup()
    app.transport.Consumer = StallingConsumer  # app.consumer is built on first use, after this
    consumer = app.consumer
    assert isinstance(consumer, StallingConsumer)
    consumer.fail_at = fail_at
    await subscribe(app, "in", partitions=(0, 1))
    client = RecordingClient()
    client.assign([TopicPartition("in", p) for p in assigned])
    consumer._thread._consumer = client  # as the thread's on_start does, after starting the client
    # the first step of faust's Consumer.on_partitions_assigned (the rest chains the app's rebalance, which
    # needs the broker): the partitions its fetcher asks for
    consumer._set_active_tps(consumer.assignment())
    return app, feed, consumer


async def _run(app: faust.App, *fetches: list[ConsumerMessage]) -> list[tuple[Any, int]]:
    """The fetch loop over `fetches`; returns the seeks made on the client, which is then closed."""
    client = app.consumer._thread._consumer
    try:
        await _fetch(app, *fetches)
    finally:
        await client.stop()
    return client.seeks


async def test_an_unreadable_partition_is_paused_reported_once_and_the_others_go_on():
    app, feed, consumer = await _stalling(fail_at=2)
    reported = []

    async def report(stalled: Any) -> None:
        reported.append(stalled)

    registry(app).reporters.append(report)
    seeks = await _run(app, [record(app, 0)], [record(app, 1)], [record(app, 2)])
    assert [m.offset for m in feed._buffer] == [0, 1, 2]  # partition 0's records of that fetch and after
    assert not seeks
    # faust's own pause: the partition leaves the active ones its fetcher asks the broker for
    assert consumer._paused_partitions == {TP("in", 1)} and consumer._get_active_partitions() == {TP("in", 0)}
    [stalled] = reported
    assert (stalled.topic, stalled.partition, stalled.offset, stalled.skip_to) == ("in", 1, 40, 43)
    assert registry(app).as_list() == [{"topic": "in", "partition": 1, "offset": 40, "skip_to": 43,
                                         "error": "CorruptRecordException: [Error 2] CorruptRecordException: Invalid CRC"}]
    assert not await registry(app).mark("in", 1, 40, 43, CorruptRecordException())  # the same: not again
    registry(app).clear("in", 1)
    assert not registry(app)


async def test_an_allowed_skip_seeks_past_the_batch_and_leaves_a_gap_faust_commits_past():
    app, feed, consumer = await _stalling(fail_at=1)
    registry(app).skips = parse_skips("other:1:99, in:1:43")
    bad = TP("in", 1)
    seeks = await _run(app, [record(app, 0)], [record(app, 43, partition=1)])
    assert seeks == [(bad, 43)] and not consumer._paused_partitions  # in the client's thread
    # faust's gap for the skipped batch; the read offset says the record at 43 adds no second one
    assert [(i.begin, i.end) for i in consumer._gap[bad]] == [(40, 43)]  # the end excluded
    assert consumer._read_offset[bad] == 43  # 42 after the skip, then the record at 43 was read
    assert not registry(app)
    await drain(feed)
    assert committable(app, "in", 1) == {bad: 44}  # past the gap, as faust commits


async def test_a_skip_below_the_failing_offset_does_not_apply():
    app, _feed, consumer = await _stalling(fail_at=1)
    registry(app).skips = {("in", 1): 40}
    seeks = await _run(app, [record(app, 0)], [record(app, 1)])
    assert consumer._paused_partitions == {TP("in", 1)} and not seeks


def test_the_alert_has_a_stable_id_and_says_how_to_skip():
    from shared.runtime.stalled import StalledPartition

    stalled = StalledPartition("pn.care.days", 2, 1234, 1240, "UnsupportedCodecError: lz4", 0.0)
    now = datetime(2026, 12, 6, tzinfo=UTC)
    first, again = alert_for("billing", stalled, now), alert_for("billing", stalled, now)
    assert first.id == again.id and first.data.severity == "critical"
    assert "PN_SKIP_OFFSETS=pn.care.days:2:1240" in first.data.message.en
    assert "PN_SKIP_OFFSETS=pn.care.days:2:1240" in first.data.message.sv


def test_getall_hands_over_the_records_before_an_unreadable_batch():
    tp = SimpleNamespace(topic="in", partition=1)

    def records():
        yield "r5"
        yield "r6"
        raise CorruptRecordException("Invalid CRC")

    class PartitionRecords:
        next_fetch_offset = 5

        def __init__(self) -> None:
            self.it = records()

        def __iter__(self) -> Any:
            return self

        def __next__(self) -> str:
            value = next(self.it)
            self.next_fetch_offset += 1
            return value

    result = SimpleNamespace(_topic_partition=tp, _partition_records=PartitionRecords(), positions=[])
    result.check_assignment = lambda tp: True
    result.has_more = lambda: result._partition_records is not None
    result._update_position = lambda: result.positions.append(result._partition_records.next_fetch_offset)
    assert fetch_loop._getall(result) == ["r5", "r6"]
    assert result.positions == [7] and result._partition_records is None  # the next fetch starts at the batch
    [kept] = fetch_loop._unreadable
    fetch_loop._unreadable.clear()
    assert (kept.tp, kept.offset, kept.skip_to) == (tp, 7, None)
    assert isinstance(kept.cause, CorruptRecordException)


async def test_a_failure_of_a_partition_revoked_meanwhile_is_not_reported():
    app, _feed, consumer = await _stalling(fail_at=1, assigned=(0,))  # ("in", 1) is no longer the client's
    seeks = await _run(app, [record(app, 0)])
    assert not consumer._paused_partitions and not seeks and not registry(app)


class _State:
    def __init__(self, position: int) -> None:
        self.paused, self.position = False, position

    def consumed_to(self, offset: int) -> None:
        self.position = offset


class _Records:
    """aiokafka's PartitionRecords as the fetcher sees it: `fail` raises after the good records."""

    def __init__(self, offset: int, values: list[str], fail: bool = False) -> None:
        self.next_fetch_offset, self.values, self.fail = offset, list(values), fail

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> str:
        if self.values:
            self.next_fetch_offset += 1
            return self.values.pop(0)
        if self.fail:
            raise CorruptRecordException("Invalid CRC")
        raise StopIteration


async def test_aiokafka_s_fetched_records_keeps_the_other_partitions_records_when_one_is_unreadable(monkeypatch):
    """Raised out of getall, the error left `fetched_records` with the records it had taken of
    other partitions, whose positions had moved past them: lost."""
    from aiokafka.consumer.fetcher import Fetcher, FetchResult

    monkeypatch.setattr(FetchResult, "getall", fetch_loop._getall)
    good, bad = TP("in", 0), TP("in", 1)
    states = {good: _State(10), bad: _State(40)}
    assignment = SimpleNamespace(active=True, state_value=states.__getitem__)
    fetcher = SimpleNamespace(
        _subscriptions=SimpleNamespace(reassignment_in_progress=False), _notify=lambda future: None,
        _wait_consume_future=None, _records={
            good: FetchResult(good, assignment=assignment, partition_records=_Records(10, ["a", "b"]), backoff=0),
            bad: FetchResult(bad, assignment=assignment, partition_records=_Records(40, [], fail=True), backoff=0)})
    drained = await Fetcher.fetched_records(fetcher, {good, bad}, timeout=0)
    assert drained == {good: ["a", "b"]} and states[good].position == 12
    [kept] = fetch_loop._unreadable
    fetch_loop._unreadable.clear()
    assert (kept.tp, kept.offset) == (bad, 40) and states[bad].position == 40
