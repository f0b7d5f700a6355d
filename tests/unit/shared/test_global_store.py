"""Global stores without a broker: a write made on one worker is read on another once its
follower has read the changelog record; the writer reads its own write at once and never an
older value afterwards (shared/runtime/global_store.py)."""

from __future__ import annotations

from dataclasses import dataclass

from faust.utils import json as faust_json

from shared.contract.events import CareUnitUpserted
from shared.contract.topics import CARE_UNITS
from shared.runtime.global_store import GlobalChangelog, Replica, ReplicaView
from shared.service.processor import Processor
from shared.service.state import Store
from shared.service.testing import FixedClock, InMemoryRuntime, message

CHANGELOG = "pn-test-units-changelog"


@dataclass
class Ack:
    offset: int


@dataclass
class Record:
    key: bytes | None
    value: bytes | None
    offset: int


class Log:
    """A broker's log as far as these tests need one: records per (topic, partition), acks with offsets."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, int], list[Record]] = {}

    async def publish(self, records):
        acks = []
        for topic, key, value, _headers, *partition in records:
            log = self.records.setdefault((topic, partition[0] if partition else 0), [])
            log.append(Record(key, value, len(log)))
            acks.append(Ack(len(log) - 1))
        return acks

    def changelog(self, partition: int, start: int = 0) -> list[Record]:
        return self.records.get((CHANGELOG, partition), [])[start:]


class TableChangelogStandIn:
    """What `TableChangelog` does for the Processor, over a dict (the worker's faust table)."""

    topic = CHANGELOG

    def __init__(self) -> None:
        self.table: dict = {}

    def read(self, key, default=None):
        return self.table.get(key, default)

    def encode(self, key, value, deleted):
        return faust_json.dumps(key), None if deleted else faust_json.dumps(value)

    def apply(self, key, value, key_bytes, value_bytes):
        self.table[key] = value

    def apply_all(self, writes):
        return False  # like the in-memory store: `apply`, write by write

    def persisted(self, partition, offset):
        pass


def worker(log: Log) -> tuple[Processor, Store, Replica]:
    """One worker's writing processor over a global store of the care units."""
    replica = Replica("units", CARE_UNITS.partitions)
    store = Store("units", ReplicaView(replica, {}), changelog=GlobalChangelog(TableChangelogStandIn(), replica))

    def on_unit(event, *, deps):
        store[f"unit|{event.data.hsa_id}"] = {"name": event.data.name}
        return []

    proc = Processor(service="t", handlers={"pn.care_unit.upserted": on_unit}, deps=None, publisher=log,
                     clock=FixedClock(), stores=[store])
    return proc, store, replica


def unit(hsa_id: str, name: str) -> CareUnitUpserted:
    return CareUnitUpserted(hsa_id=hsa_id, name=name, care_provider="Region Dalarna", region="20",
                            registry_address="Box 1, 791 29 Falun")


A, B = "SE2321000180-E000000000001", "SE2321000180-E000000000002"


async def test_a_write_on_one_worker_is_read_on_another_once_followed():
    log = Log()
    writer, store_w, replica_w = worker(log)
    _, store_r, replica_r = worker(log)
    await writer.process_batch([message(CARE_UNITS, unit(A, "Psykiatri Falun"), partition=2, id="u1")])

    assert store_w.get(f"unit|{A}") == {"name": "Psykiatri Falun"}  # the writer: at once (pending)
    assert store_r.get(f"unit|{A}") is None  # the other worker: not before its follower read it
    for partition in range(CARE_UNITS.partitions):
        replica_r.apply(partition, log.changelog(partition))
        replica_w.apply(partition, log.changelog(partition))
    assert store_r.get(f"unit|{A}") == {"name": "Psykiatri Falun"}
    assert dict(store_r.items()) == dict(store_w.items()) == {f"unit|{A}": {"name": "Psykiatri Falun"}}
    assert replica_w.pending == {}  # read back: the replica's own value from now on


async def test_the_writer_never_reads_an_older_value_while_its_follower_is_behind():
    log = Log()
    writer, store, replica = worker(log)
    await writer.process_batch([message(CARE_UNITS, unit(A, "old name"), partition=1, id="u1")])
    await writer.process_batch([message(CARE_UNITS, unit(A, "new name"), partition=1, id="u2")])
    first, second = log.changelog(1)
    replica.apply(1, [first])  # the follower reads the first write only
    assert store.get(f"unit|{A}") == {"name": "new name"}
    replica.apply(1, [second])
    assert store.get(f"unit|{A}") == {"name": "new name"} and replica.pending == {}


async def test_deletions_and_keys_of_every_partition():
    replica = Replica("units", 4)
    dumps = faust_json.dumps
    replica.apply(0, [Record(dumps("a"), dumps(1), 0), Record(dumps("b"), dumps(2), 1)])
    replica.apply(3, [Record(dumps("c"), dumps(3), 0), Record(dumps("a"), None, 1)])  # a tombstone
    view = ReplicaView(replica, {})
    assert sorted(view) == ["b", "c"] and view.get("a") is None and view["c"] == 3
    assert replica.positions == {0: 2, 3: 2}


async def test_loading_is_a_reason_for_health_until_caught_up():
    replica = Replica("units", 4)
    assert "loading" in replica.loading_reason()
    replica.mark_caught_up()
    await replica.wait_caught_up()
    assert replica.loading_reason() is None


async def test_a_pending_write_without_an_acknowledged_offset_is_forgotten_on_a_rebalance():
    replica = Replica("units", 4)
    replica.stage(faust_json.dumps("a"), faust_json.dumps(1), 0)
    assert replica.get("a") == 1
    replica.forget_unstamped()
    assert replica.get("a") is None


def test_in_memory_runtime_gives_a_global_store_over_one_dict():
    from shared.service.settings import PnSettings
    from shared.service.spec import ServiceSpec

    spec = ServiceSpec(name="t", port=6099, summary="t", inputs=(CARE_UNITS,), settings=PnSettings, app="x:y")
    runtime = InMemoryRuntime(spec, PnSettings())
    store = runtime.global_store("units", CARE_UNITS)
    store["k"] = 1
    assert runtime.global_stores == {"units": CARE_UNITS} and runtime.stores["units"] is store
