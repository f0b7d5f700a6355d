"""The shared consumer wrapper without a broker: dead-letter, dedup, unit-of-work, determinism."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shared.contract.events import AlertMessage, AlertRaised, LedgerPosted
from shared.contract.topics import ALERTS_OPS, DEADLETTER, FINANCE_POSTINGS
from shared.service.processor import Message, Processor
from shared.service.state import Store
from shared.service.testing import FakePublisher, FixedClock, message


class Deps:
    def __init__(self) -> None:
        self.postings = Store("postings")
        self.emit = None


def on_posted(event, *, deps):
    if event.data.text == "boom":
        deps.postings["half-written"] = 1
        raise RuntimeError("handler failed on purpose")
    deps.postings[event.data.posting_id] = str(event.data.amount)
    alert = AlertRaised(alert_id=event.data.posting_id, rule_id="t", severity="info", subject="s",
                        message=AlertMessage(sv="a", en="a"), raised_at=datetime(2023, 1, 1, tzinfo=UTC))
    return [deps.emit(ALERTS_OPS, alert, key=alert.alert_id, cause=[event.data.posting_id])]


def make(publisher=None):
    deps = Deps()
    proc = Processor(service="t", handlers={"pn.ledger.posted": on_posted}, deps=deps,
                     publisher=publisher or FakePublisher(), clock=FixedClock(), stores=[deps.postings])
    deps.emit = proc.emit
    return proc, deps


def posting(pid: str, text: str = "x") -> LedgerPosted:
    return LedgerPosted(posting_id=pid, period="2023-01", cost_centre="6101", account_group="other",
                        amount="-1.00", text=text)


async def test_good_bad_and_duplicate_messages_in_one_batch():
    proc, deps = make()
    good = message(FINANCE_POSTINGS, posting("p1"), id="e1")
    dup = message(FINANCE_POSTINGS, posting("p1"), id="e1")
    not_json = Message(FINANCE_POSTINGS.name, 0, 99, None, b"\xff\xfe not json")
    await proc.process_batch([not_json, good, dup])
    pub = proc.publisher
    assert [e.data.alert_id for e in pub.on(ALERTS_OPS)] == ["p1"]
    [dead] = pub.on(DEADLETTER)
    assert dead.data.raw_encoding == "base64"
    assert base64.b64decode(dead.data.raw) == b"\xff\xfe not json"
    assert dead.data.errors[0].msg.startswith("not JSON")
    assert deps.postings.table == {"p1": "-1.00"}


async def test_handler_exception_dead_letters_and_rolls_back_its_writes():
    proc, deps = make()
    await proc.process_batch([message(FINANCE_POSTINGS, posting("p2", text="boom")),
                              message(FINANCE_POSTINGS, posting("p3"))])
    [dead] = proc.publisher.on(DEADLETTER)
    assert dead.data.errors[0].loc == ["handler", "pn.ledger.posted"]
    assert "half-written" not in deps.postings.table
    assert deps.postings.table == {"p3": "-1.00"}


async def test_state_is_not_committed_when_outputs_fail():
    proc, deps = make(FakePublisher(fail_with=ConnectionError("broker down")))
    with pytest.raises(ConnectionError):
        await proc.process_batch([message(FINANCE_POSTINGS, posting("p4"))])
    assert deps.postings.table == {}
    assert deps.postings.pending() == 0 and "p4" not in deps.postings  # rolled back: a replay recomputes


async def test_replay_after_crash_emits_the_same_ids():
    first, _ = make()
    second, _ = make()
    msg = message(FINANCE_POSTINGS, posting("p5"))
    await first.process(msg)
    await second.process(msg)
    assert first.publisher.on(ALERTS_OPS)[0].id == second.publisher.on(ALERTS_OPS)[0].id


async def test_unhandled_type_is_ignored_and_oversize_is_dead_lettered():
    proc, _ = make()
    big = Message(FINANCE_POSTINGS.name, 0, 1, None, b" " * 1_048_577)
    await proc.process_batch([big])
    [dead] = proc.publisher.on(DEADLETTER)
    assert "exceeds" in dead.data.errors[0].msg


def test_store_overlay_reads_own_writes_and_commits_in_order():
    store = Store("s", {"a": 1})
    store.begin((1, 0))
    store["a"] = 2
    store.begin((1, 1))
    store["c"] = 3
    assert store["a"] == 2 and store.get("c") == 3 and store.table == {"a": 1}
    assert sorted(store.keys()) == ["a", "c"]
    store.commit((1, 0))
    assert store.table == {"a": 2}
    store.rollback((1, 1))
    assert "c" not in store and store.table == {"a": 2}
    store.begin((2, 0))
    del store["a"]
    assert "a" not in store and store.table == {"a": 2}
    store.commit((2, 0))
    assert store.table == {}


class CountingTable(dict):
    """A table that records every write with the batch index it was made under (faust: the
    partition of that message gets the changelog record)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, object, int | None]] = []
        self.index: int | None = None

    def __setitem__(self, key, value) -> None:
        self.writes.append((key, value, self.index))
        super().__setitem__(key, value)


def test_a_batch_writes_each_key_once_with_its_last_value_under_its_last_writer():
    from contextlib import contextmanager

    table = CountingTable()
    store = Store("s", table)

    @contextmanager
    def under(index):
        table.index = index
        yield
        table.index = None

    tags = [(7, i) for i in range(3)]
    for tag, value in zip(tags, ("a", "b", "c"), strict=True):
        store.begin(tag)
        store["total"] = value
        store[f"fact|{tag[1]}"] = value
    store.commit_all(tags, under)
    assert table == {"total": "c", "fact|0": "a", "fact|1": "b", "fact|2": "c"}
    assert [w for w in table.writes if w[0] == "total"] == [("total", "c", 2)]  # one changelog record
    assert ("fact|0", "a", 0) in table.writes
    assert store.get("total") == "c" and store.pending() == 0


async def test_a_failed_publish_rolls_back_the_whole_batch():
    proc, deps = make(FakePublisher(fail_with=ConnectionError("broker down")))
    batch = [message(FINANCE_POSTINGS, posting(f"p{i}"), id=f"e{i}") for i in range(3)]
    with pytest.raises(ConnectionError):
        await proc.process_batch(batch)
    assert deps.postings.table == {} and deps.postings.get("p0") is None


class BatchingClient:
    """What FaustPublisher uses of aiokafka's producer: record batches, the partitioner, metadata.
    Key b"a" goes to partition 0, anything else to 1; `fail` = failures to come per partition."""

    def __init__(self, fail: dict[int, int] | None = None, room: int = 10) -> None:
        from collections import defaultdict
        from types import SimpleNamespace

        self.fail, self.room = dict(fail or {}), room
        self.client = SimpleNamespace(_wait_on_metadata=self._metadata)
        self.sent: list[tuple[int, list[bytes]]] = []
        self.next_offset: dict[int, int] = defaultdict(int)

    async def _metadata(self, topic):
        return {0, 1}

    def _partition(self, topic, partition, key, value, serialized_key, serialized_value):
        return 0 if key == b"a" else 1

    def create_batch(self):
        client = self

        class Batch:
            def __init__(self):
                self.values, self.closed = [], False

            def append(self, *, key, value, timestamp, headers):
                if self.closed or len(self.values) >= client.room:
                    return None
                self.values.append(value)
                return object()

            def close(self):
                self.closed = True

        return Batch()

    async def send_batch(self, batch, topic, *, partition):
        import asyncio
        from types import SimpleNamespace

        assert batch.closed
        fut = asyncio.get_running_loop().create_future()
        if self.fail.get(partition):
            self.fail[partition] -= 1
            fut.set_exception(ConnectionError("leader moved"))
        else:
            self.sent.append((partition, list(batch.values)))
            fut.set_result(SimpleNamespace(offset=self.next_offset[partition]))
            self.next_offset[partition] += len(batch.values)
        return fut


def _publisher(client):
    from types import SimpleNamespace

    from shared.runtime.publisher import FaustPublisher

    return FaustPublisher(SimpleNamespace(producer=SimpleNamespace(_ensure_producer=lambda: client)))


async def test_the_faust_publisher_sends_a_record_batch_per_partition_and_acks_each_record_s_offset():
    client = BatchingClient(room=2)
    records = [("t", b"a", b"a1", ()), ("t", b"b", b"b1", ()), ("t", b"a", b"a2", ()), ("t", b"a", b"a3", ()),
               ("t", None, b"c0", (), 0)]  # an explicit partition (a table change) is kept
    acks = await _publisher(client).publish(records)
    assert client.sent == [(0, [b"a1", b"a2"]), (0, [b"a3", b"c0"]), (1, [b"b1"])]  # in order per partition
    assert [(a.partition, a.offset) for a in acks] == [(0, 0), (1, 0), (0, 1), (0, 2), (0, 3)]


async def test_the_faust_publisher_resends_from_the_first_unacknowledged_record_in_order():
    from shared.runtime.publisher import FaustPublisher

    client = BatchingClient(fail={1: 1})  # partition 1's first batch fails; partition 0's is acked meanwhile
    FaustPublisher.RETRIES, saved = 3, FaustPublisher.RETRIES
    try:
        acks = await _publisher(client).publish([("t", b"a", b"a1", ()), ("t", b"b", b"b1", ()), ("t", b"a", b"a2", ())])
    finally:
        FaustPublisher.RETRIES = saved
    # a2 again after b1: from the first unacknowledged record on, so the last version of a key wins
    assert client.sent == [(0, [b"a1", b"a2"]), (1, [b"b1"]), (0, [b"a2"])]
    assert [(a.partition, a.offset) for a in acks] == [(0, 0), (1, 0), (0, 2)]


class Ledger:
    """A handler pair over one store: facts per posting, the total deferred to the end of the batch."""

    def __init__(self) -> None:
        self.store = Store("ledger")
        self.totals_computed = 0
        self.emit = None

    def on_posted(self, event, *, deps):
        from shared.service.ports import Later

        if event.data.text == "boom":
            raise RuntimeError("handler failed on purpose")
        self.store[f"k|{event.data.posting_id}"] = str(event.data.amount)
        return [Later(("total", event.data.cost_centre), lambda: self.total(event))]

    def total(self, event):
        self.totals_computed += 1
        total = sum(Decimal(v) for k, v in self.store.items() if k.startswith("k|"))
        self.store["total"] = str(total)
        alert = AlertRaised(alert_id=f"total={total}", rule_id="t", severity="info", subject="s",
                            message=AlertMessage(sv="a", en="a"), raised_at=datetime(2023, 1, 1, tzinfo=UTC))
        return [self.emit(ALERTS_OPS, alert, key="total", cause=[event.id, "total"])]


def ledger_processor():
    ledger = Ledger()
    proc = Processor(service="t", handlers={"pn.ledger.posted": ledger.on_posted}, deps=None,
                     publisher=FakePublisher(), clock=FixedClock(), stores=[ledger.store])
    ledger.emit = proc.emit
    return proc, ledger


async def test_deferred_work_runs_once_per_key_after_the_batch_under_its_last_message():
    proc, ledger = ledger_processor()
    batch = [message(FINANCE_POSTINGS, posting(f"p{i}"), id=f"e{i}") for i in range(5)]
    await proc.process_batch(batch)
    assert ledger.totals_computed == 1
    [alert] = proc.publisher.on(ALERTS_OPS)
    assert alert.data.alert_id == "total=-5.00"
    assert ledger.store.table["total"] == "-5.00"
    again, ledger2 = ledger_processor()  # the same outputs, id included, when replayed
    await again.process_batch(batch)
    assert again.publisher.on(ALERTS_OPS)[0].id == alert.id


async def test_a_failing_handler_drops_its_deferred_work_and_an_earlier_one_runs():
    proc, ledger = ledger_processor()
    batch = [message(FINANCE_POSTINGS, posting("p1"), id="e1"),
             message(FINANCE_POSTINGS, posting("p2", text="boom"), id="e2")]
    await proc.process_batch(batch)
    [alert] = proc.publisher.on(ALERTS_OPS)
    assert alert.data.alert_id == "total=-1.00"
    assert len(proc.publisher.on(DEADLETTER)) == 1


def test_a_store_cache_serves_committed_values_and_absences_until_invalidated_and_skips_new_facts():
    class CountingReads(dict):
        reads = 0

        def get(self, key, default=None):
            CountingReads.reads += 1
            return super().get(key, default)

    table = CountingReads(a=1)
    store = Store("s", table, cache_entries=3)
    assert store.get("a") == 1 and store.get("a") == 1 and "b" not in store and "b" not in store
    assert CountingReads.reads == 2  # one read per key, absences included
    store.begin((1, 0))
    store["a"], store["b"] = 5, 2
    store.commit_all([(1, 0)])
    assert store.get("a") == 5 and CountingReads.reads == 2  # a commit updates a held value
    assert store.get("b") == 2 and store.get("b") == 2 and CountingReads.reads == 3  # a new fact: read once
    dict.__setitem__(table, "a", 9)  # the table changed under us (recovery after a rebalance)
    assert store.get("a") == 5
    store.invalidate()
    assert store.get("a") == 9
    store.begin((2, 0))
    del store["a"]
    store.commit_all([(2, 0)])
    assert "a" not in store and CountingReads.reads == 5  # a deletion drops the key: read again, absent
    for k in "cdefg":  # bounded: a full cache starts over
        store.get(k)
    assert len(store._cache) <= 3


class FakeTableData(dict):
    """A faust in-memory table store: Python keys and values, no byte-level _set/_del."""

    def _encode_key(self, key):
        return f'"{key}"'.encode()

    def _encode_value(self, value):
        return repr(value).encode()


class SerialisingTableData(FakeTableData):
    """A faust RocksDB store: the changelog's bytes go in."""

    def __init__(self):
        super().__init__()
        self.raw, self.offsets = {}, {}

    def _set(self, key, value):
        self.raw[key] = value

    def _del(self, key):
        self.raw.pop(key, None)

    def set_persisted_offset(self, tp, offset):
        self.offsets[(tp.topic, tp.partition)] = offset


@pytest.mark.parametrize("data_cls", [FakeTableData, SerialisingTableData])
async def test_table_changes_are_published_with_the_outputs_then_applied_with_their_offsets(data_cls):
    from types import SimpleNamespace

    from shared.runtime.changelog import TableChangelog

    data = data_cls()
    table = SimpleNamespace(data=data, changelog_topic=SimpleNamespace(get_topic_name=lambda: "pn-t-s-changelog"))

    class Acking(FakePublisher):
        async def publish(self, records):
            self.records = list(records)
            return [SimpleNamespace(partition=r[4] if len(r) > 4 else 0, offset=100 + i) for i, r in enumerate(records)]

    deps = Deps()
    deps.postings = Store("postings", data, changelog=TableChangelog(table))  # reads: the table (here its data)
    proc = Processor(service="t", handlers={"pn.ledger.posted": on_posted}, deps=deps,
                     publisher=Acking(), clock=FixedClock(), stores=[deps.postings])
    deps.emit = proc.emit
    batch = [message(FINANCE_POSTINGS, posting(f"p{i}"), id=f"e{i}") for i in range(2)]
    await proc.process_batch(batch)
    changelog = [r for r in proc.publisher.records if r[0] == "pn-t-s-changelog"]
    assert [(r[1], r[2]) for r in changelog] == [(b'"p0"', b"'-1.00'"), (b'"p1"', b"'-1.00'")]
    assert [r[4] for r in changelog] == [m.partition for m in batch]  # the writer's partition
    if data_cls is SerialisingTableData:
        assert data.raw == {b'"p0"': b"'-1.00'", b'"p1"': b"'-1.00'"} and len(data.offsets) >= 1
    else:
        assert dict(data) == {"p0": "-1.00", "p1": "-1.00"}
        assert deps.postings.get("p1") == "-1.00"


async def test_outputs_are_acknowledged_before_the_table_changes_that_record_them_are_sent():
    """A changelog record on the broker must imply its batch's outputs are there: else a kill -9
    could keep a state that says done for an output that was lost (a replay would not re-send it)."""
    from types import SimpleNamespace

    from shared.runtime.changelog import TableChangelog

    class Recording(FakePublisher):
        def __init__(self, fail_outputs=False):
            super().__init__()
            self.calls, self.fail_outputs = [], fail_outputs

        async def publish(self, records):
            self.calls.append([r[0] for r in records])
            if self.fail_outputs and records[0][0] == ALERTS_OPS.name:
                raise ConnectionError("the broker is gone")
            return [SimpleNamespace(partition=0, offset=i) for i, _ in enumerate(records)]

    for fail in (False, True):
        data = SerialisingTableData()
        table = SimpleNamespace(data=data, changelog_topic=SimpleNamespace(get_topic_name=lambda: "pn-t-s-changelog"))
        deps = Deps()
        deps.postings = Store("postings", data, changelog=TableChangelog(table))
        proc = Processor(service="t", handlers={"pn.ledger.posted": on_posted}, deps=deps,
                         publisher=Recording(fail), clock=FixedClock(), stores=[deps.postings])
        deps.emit = proc.emit
        batch = [message(FINANCE_POSTINGS, posting(f"p{i}"), id=f"e{i}") for i in range(2)]
        if not fail:
            await proc.process_batch(batch)
            assert proc.publisher.calls == [[ALERTS_OPS.name] * 2, ["pn-t-s-changelog"] * 2]
            assert data.raw  # applied once both were acknowledged
        else:
            with pytest.raises(ConnectionError):
                await proc.process_batch(batch)
            assert proc.publisher.calls == [[ALERTS_OPS.name] * 2]  # no table change was sent
            assert data.raw == {} and deps.postings.get("p0") is None


def test_table_changes_are_encoded_and_read_back_as_faust_s_own_store_does():
    """The changelog's direct JSON (shared/runtime/changelog.py) must give faust's bytes: recovery reads them."""
    import faust

    from shared.runtime.changelog import TableChangelog

    app = faust.App("pn-codec-test", key_serializer="json", value_serializer="json", store="memory://")
    table = app.Table("t", default=None)
    changelog, data = TableChangelog(table), table.data
    values = [{"sp": "sp-1", "period": "2023-04", "taxable": "350.00", "n": 3, "ok": True, "none": None},
              ["a", "å", 1], "PN 2023/12", 7, {"nested": {"list": [{"x": "ÅÄÖ"}]}}]
    for key, value in zip(["v|1", "doc|complaint:åäö", "seq|2023", "n", "w|a|2023-W14"], values, strict=True):
        assert changelog.encode(key, value, False) == (data._encode_key(key), data._encode_value(value))
        loads = changelog._json[1]
        assert loads(data._encode_value(value)) == data._decode_value(data._encode_value(value))
    assert changelog.encode("gone", None, True) == (data._encode_key("gone"), None)


def test_acknowledged_changes_are_written_to_rocksdb_in_one_batch_per_partition_and_read_back(tmp_path):
    """apply_all (shared/runtime/changelog.py) leaves what faust's own writes leave: the value in the
    partition's DB, the key's partition in the key index; a deletion removes the key."""
    import faust

    from shared.runtime.changelog import TableChangelog

    app = faust.App("pn-apply-test", key_serializer="json", value_serializer="json", store="rocksdb://",
                    datadir=str(tmp_path))
    table = app.Table("t", default=None, partitions=4)
    changelog, data = TableChangelog(table), table.data
    encoded = {key: changelog.encode(key, value, False) for key, value in [("a", {"n": 1}), ("b", "två"), ("c", [3])]}
    assert changelog.apply_all([(*encoded["a"], 0), (*encoded["b"], 3), (*encoded["c"], 3)])
    assert changelog.read("a") == {"n": 1} and changelog.read("b") == "två" and changelog.read("c") == [3]
    assert data._key_index[encoded["b"][0]] == 3 and data._dbs[3].get(encoded["b"][0]) == encoded["b"][1]
    assert changelog.apply_all([(encoded["b"][0], None, 3)])
    assert changelog.read("b", "gone") == "gone" and changelog.read("c") == [3]


async def test_an_input_forwarded_unchanged_goes_on_as_the_bytes_it_came_in():
    """Intake's stage 1 forwards accepted complaints: fields this version does not know travel on."""
    from shared.service.ports import Emit

    def forward(event, *, deps):
        return [Emit(ALERTS_OPS, None, event)]

    proc = Processor(service="t", handlers={"pn.ledger.posted": forward}, deps=None, publisher=FakePublisher(),
                     clock=FixedClock())
    raw = message(FINANCE_POSTINGS, posting("p1"), id="e1").value.replace(b'"data":{', b'"data":{"later":1,')
    await proc.process_batch([Message(FINANCE_POSTINGS.name, 0, 0, None, raw)])
    [sent] = proc.publisher.sent
    assert sent.topic == ALERTS_OPS.name and sent.value == raw


async def test_a_record_too_large_for_its_dead_letter_is_dead_lettered_truncated_and_the_next_is_processed():
    """Issue 22: 1.2 MB of random bytes made building the dead letter fail; the error escaped the
    batch and stopped the partition. The raw copy is truncated, marked so, with sha256 and size."""
    import hashlib
    import os

    from shared.service.processor import DEADLETTER_RAW_MAX

    proc, deps = make()
    huge = os.urandom(1_200_000)
    await proc.process_batch([Message(FINANCE_POSTINGS.name, 0, 7, None, huge),
                              message(FINANCE_POSTINGS, posting("after-huge"), id="e-after")])
    [dead] = proc.publisher.on(DEADLETTER)
    assert dead.data.raw_truncated is True
    assert dead.data.raw_size == 1_200_000
    assert dead.data.raw_sha256 == hashlib.sha256(huge).hexdigest()
    assert dead.data.raw_encoding == "base64"
    kept = base64.b64decode(dead.data.raw)
    assert 0 < len(kept) <= DEADLETTER_RAW_MAX and huge.startswith(kept)
    assert deps.postings.table == {"after-huge": "-1.00"}


async def test_a_large_text_record_keeps_a_utf8_prefix_and_a_small_one_is_whole():
    import hashlib

    from shared.service.processor import DEADLETTER_RAW_MAX

    proc, _ = make()
    big = ("å" * 700_000).encode()  # 1.4 MB of valid UTF-8, not JSON
    small = b"not json"
    await proc.process_batch([Message(FINANCE_POSTINGS.name, 0, 8, None, big),
                              Message(FINANCE_POSTINGS.name, 0, 9, None, small)])
    big_dead, small_dead = proc.publisher.on(DEADLETTER)
    assert big_dead.data.raw_truncated and big_dead.data.raw_encoding is None
    assert big.startswith(big_dead.data.raw.encode()) and len(big_dead.data.raw.encode()) <= DEADLETTER_RAW_MAX
    assert big_dead.data.raw_sha256 == hashlib.sha256(big).hexdigest()
    assert small_dead.data.raw == "not json" and not small_dead.data.raw_truncated
    assert small_dead.data.raw_size == len(small) and small_dead.data.raw_sha256 == hashlib.sha256(small).hexdigest()


async def test_a_batch_failing_before_its_publish_leaves_no_staged_write_so_taking_it_again_processes_it():
    """Issue 22: an output that could not be encoded failed the batch before its writes were
    collected; its seen ids stayed staged and the batch, taken again, skipped its own events."""
    from shared.service.ports import Emit

    class Unencodable(Emit):
        def value(self) -> bytes:
            raise RuntimeError("cannot encode")

    fail = [True]

    def handler(event, *, deps):
        deps.postings[event.data.posting_id] = "x"
        if event.data.text == "bad-output" and fail[0]:
            return [Unencodable(ALERTS_OPS, None, event.model_copy())]
        return on_posted(event, deps=deps)

    proc, deps = make()
    proc.handlers["pn.ledger.posted"] = handler
    batch = [message(FINANCE_POSTINGS, posting("a1"), id="ea1"),
             message(FINANCE_POSTINGS, posting("a2", text="bad-output"), id="ea2")]
    with pytest.raises(RuntimeError):
        await proc.process_batch(batch)
    assert proc.publisher.sent == [] and deps.postings.table == {} and deps.postings.pending() == 0
    fail[0] = False
    await proc.process_batch(batch)
    assert sorted(e.data.alert_id for e in proc.publisher.on(ALERTS_OPS)) == ["a1", "a2"]
