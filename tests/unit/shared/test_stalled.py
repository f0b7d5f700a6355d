"""A partition the client cannot read past (shared/stalled.py, shared/fetch_loop.py), without a
broker: the loop pauses it and goes on, or skips it where PN_SKIP_OFFSETS allows. The real
client on the real broker: tests/integration/test_real_producers.py."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from aiokafka.errors import CorruptRecordException
from faust.types import TP

from shared import fetch_loop
from shared.stalled import alert_for, parse_skips, registry

from .test_fetch_loop import Consumer, _record, _run, _setup


class Failing(Consumer):
    """Fetches: the records of `rounds`; `fail_at` round raises for partition ("in", 1)."""

    def __init__(self, app: Any, rounds: list, fail_at: int, **kw: Any) -> None:
        super().__init__(app, rounds, **kw)
        self.fail_at, self.round, self.paused, self.seeks = fail_at, 0, [], []

    async def getmany(self, timeout: float) -> Any:
        self.round += 1
        if self.round == self.fail_at:  # as fetch_loop._getall keeps it, in the client's thread
            error = CorruptRecordException("Invalid CRC")
            fetch_loop._unreadable.append(fetch_loop.PartitionUnreadable(TP("in", 1), 40, 43, error))
        async for item in super().getmany(timeout):
            yield item

    def assignment(self) -> set[TP]:
        return {TP("in", 0), TP("in", 1)}

    def _new_topicpartition(self, topic: str, partition: int) -> TP:
        return TP(topic, partition)

    def pause_partitions(self, tps: Any) -> None:
        self.paused.extend(tps)

    async def _seek(self, tp: Any, offset: int) -> None:
        self.seeks.append((tp, offset))


async def test_an_unreadable_partition_is_paused_reported_once_and_the_others_go_on():
    app, feed = _setup()
    reported = []

    async def report(stalled: Any) -> None:
        reported.append(stalled)

    registry(app).reporters.append(report)
    consumer = Failing(app, [[_record(0)], [_record(1)], [_record(2)]], fail_at=2)
    await _run(consumer)
    assert [m.offset for m in feed._buffer] == [0, 1, 2]  # partition 0's records of that fetch and after
    assert consumer.paused == [TP("in", 1)] and not consumer.seeks
    [stalled] = reported
    assert (stalled.topic, stalled.partition, stalled.offset, stalled.skip_to) == ("in", 1, 40, 43)
    assert registry(app).as_list() == [{"topic": "in", "partition": 1, "offset": 40, "skip_to": 43,
                                         "error": "CorruptRecordException: [Error 2] CorruptRecordException: Invalid CRC"}]
    assert not await registry(app).mark("in", 1, 40, 43, CorruptRecordException())  # the same: not again
    registry(app).clear("in", 1)
    assert not registry(app)


async def test_an_allowed_skip_seeks_past_the_batch_and_leaves_a_gap_faust_commits_past():
    app, _feed = _setup()
    registry(app).skips = parse_skips("other:1:99, in:1:43")
    consumer = Failing(app, [[_record(0)], [_record(1)]], fail_at=1, acks=True)
    await _run(consumer)
    assert consumer.seeks == [(TP("in", 1), 43)] and not consumer.paused
    assert consumer.gaps == [(40, 42)] and consumer._read_offset[TP("in", 1)] == 42
    assert not registry(app)


async def test_a_skip_below_the_failing_offset_does_not_apply():
    app, _feed = _setup()
    registry(app).skips = {("in", 1): 40}
    consumer = Failing(app, [[_record(0)], [_record(1)]], fail_at=1)
    await _run(consumer)
    assert consumer.paused == [TP("in", 1)] and not consumer.seeks


def test_the_alert_has_a_stable_id_and_says_how_to_skip():
    from shared.stalled import StalledPartition

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
    app, _feed = _setup()
    consumer = Failing(app, [[_record(0)]], fail_at=1)
    consumer.assignment = lambda: {TP("in", 0)}
    await _run(consumer)
    assert not consumer.paused and not registry(app)


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
