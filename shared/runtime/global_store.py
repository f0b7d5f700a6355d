"""Global stores: reference data every partition needs, held in full by every worker of a service.

A partitioned table holds on each worker only the partitions that worker is assigned; a handler
of partition 2 cannot read a care unit that was written from partition 0 on another worker
(issue 27). A global store is written exactly like any store — by the processor that consumes
the reference topic (`pn.reference.care-units`, agreements, budgets), staged, published as
changelog records after the batch's outputs, on the partition of the message that wrote it — but
it is *read* from a `Replica`: each worker follows every partition of that changelog topic with
a consumer of its own (no consumer group, from the beginning, for as long as the worker runs)
and keeps the values in memory.

Why not faust's `GlobalTable`: faust-streaming documents that a GlobalTable with several app
instances "may cause an app to be stuck in an infinite recovery loop" (its own workaround: one
partition and a recovery buffer of one), and its updates arrive through the standby path of
faust's recovery, which is paused during every rebalance and runs through the fetch loop we
replace (shared/runtime/fetch_loop.py). A broadcast consumer is public aiokafka only, independent
of the group (a rebalance does not stop it) and of faust's recovery, and costs one fetch loop
per worker and global store. Reference data is small (hundreds to thousands of keys), so the
replica lives in memory and is read back from the (compacted) changelog at every start.

How soon a write is seen:
- on the writing worker, at once: a write acknowledged by the broker is held as *pending* in the
  replica (the Processor's commit path calls `apply_all`/`persisted` of `GlobalChangelog`) until
  the follower has read past its changelog offset, so the writer reads its own writes at once
  and never an older value afterwards;
- on every other worker, when its follower fetches the record: one fetch after the writer's
  batch is acknowledged (on the dev broker, which holds every fetch for its maximum wait, up to
  `FOLLOW_FETCH_WAIT_MS`; on Apache Kafka as soon as the record is there).
- at a worker's start, its agents process nothing before every global store of the worker has
  read its changelog to the high watermark of the first fetches (`/health` says `global_store`
  until then): no handler runs against a half-loaded directory.

A key that is not there yet (the care unit whose directory event is still on its way) is the
service's business: hold the event and retry it, or reject it, as the service documents.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import Any

from faust.utils import json as faust_json

from shared.service.settings import PnSettings

FOLLOW_FETCH_WAIT_MS = 100
"""The follower's fetch_max_wait_ms: the longest a write waits to reach the other workers on the
dev broker (Tansu holds every fetch this long); an idle follower costs one fetch per this time."""

_MISSING = object()


class Replica:
    """Every key of one global store, as this worker has read it from the changelog, plus its
    own acknowledged writes not yet read back (`pending`). Pure bookkeeping: the follower task
    (`follow`) feeds it records, the Processor's commit path its own writes."""

    def __init__(self, name: str, partitions: int, *, loads: Callable[[bytes], Any] | None = None) -> None:
        self.name = name
        self.partitions = partitions
        self._loads = loads or faust_json.loads
        self.values: dict[Any, Any] = {}
        self.pending: dict[Any, list[Any]] = {}  # key → [value or _MISSING (deleted), partition, offset or None]
        self.positions: dict[int, int] = {}  # partition → next offset read
        self.caught_up = False
        self._caught_up_event: asyncio.Event | None = None
        self.error: str | None = None

    # -- reads ---------------------------------------------------------------------------------
    def get(self, key: Any, default: Any = None) -> Any:
        staged = self.pending.get(key)
        if staged is not None:
            return default if staged[0] is _MISSING else staged[0]
        return self.values.get(key, default)

    def keys(self) -> Iterator[Any]:
        for key, staged in list(self.pending.items()):
            if staged[0] is not _MISSING:
                yield key
        for key in list(self.values):
            if key not in self.pending:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self.keys())

    # -- the worker's own writes (Processor commit path) ---------------------------------------
    def stage(self, key_bytes: bytes, value_bytes: bytes | None, partition: int) -> None:
        """A write of this worker, acknowledged by the broker: visible at once."""
        key = self._loads(key_bytes)
        value = _MISSING if value_bytes is None else self._loads(value_bytes)
        self.pending[key] = [value, partition, None]

    def stamp(self, partition: int, offset: int) -> None:
        """The highest changelog offset of this worker's last batch on `partition`: its pending
        writes there are dropped once the follower has read past it."""
        for entry in self.pending.values():
            if entry[1] == partition and entry[2] is None:
                entry[2] = offset
        self._settle({partition})

    def forget_unstamped(self) -> None:
        """Pending writes whose offset never came (no acknowledgement offset): dropped on a
        rebalance, after which another worker may own their partition and write newer values."""
        for key in [k for k, e in self.pending.items() if e[2] is None]:
            del self.pending[key]

    # -- the follower --------------------------------------------------------------------------
    def apply(self, partition: int, records: Sequence[Any]) -> None:
        """Changelog records of one partition, in offset order (`key`, `value`, `offset`)."""
        values, loads = self.values, self._loads
        for record in records:
            if record.key is None:
                continue
            key = loads(record.key)
            if record.value is None:
                values.pop(key, None)
            else:
                values[key] = loads(record.value)
        if records:
            self.positions[partition] = records[-1].offset + 1
            self._settle({partition})

    def _settle(self, partitions: set[int]) -> None:
        positions = self.positions
        done = [key for key, (_, partition, offset) in self.pending.items()
                if partition in partitions and offset is not None and positions.get(partition, 0) > offset]
        for key in done:
            del self.pending[key]

    def mark_caught_up(self) -> None:
        self.caught_up = True
        if self._caught_up_event is not None:
            self._caught_up_event.set()

    async def wait_caught_up(self) -> None:
        if self.caught_up:
            return
        if self._caught_up_event is None:
            self._caught_up_event = asyncio.Event()
        await self._caught_up_event.wait()

    def loading_reason(self) -> str | None:
        """For /health: why this worker is not ready because of this store, or None."""
        if self.caught_up:
            return None
        return f"global store {self.name} is loading ({len(self.values)} keys read)" + (
            f"; last error: {self.error}" if self.error else "")


class ReplicaView(MutableMapping[str, Any]):
    """The `table` of a global Store: reads and iteration from the replica (every partition);
    a write (only with the `changelog` hook off: faust writes its own changelog) goes to the
    faust table, and reaches the replica when the follower reads it back."""

    def __init__(self, replica: Replica, table: MutableMapping[str, Any]) -> None:
        self.replica = replica
        self.table = table

    def __getitem__(self, key: str) -> Any:
        value = self.replica.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return self.replica.get(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        self.table[key] = value

    def __delitem__(self, key: str) -> None:
        self.table.pop(key, None)

    def __iter__(self) -> Iterator[str]:
        return self.replica.keys()

    def __len__(self) -> int:
        return len(self.replica)


class GlobalChangelog:
    """The Processor's view of a global store's changelog (shared/service/state.py `Changelog`):
    records are encoded and applied to the faust table as for any store (`TableChangelog`), and
    each acknowledged write is also staged in the replica, so the writer reads it at once."""

    def __init__(self, inner: Any, replica: Replica) -> None:
        self._inner = inner
        self.replica = replica

    @property
    def topic(self) -> str:
        return self._inner.topic

    def read(self, key: str, default: Any = None) -> Any:
        return self.replica.get(key, default)

    def encode(self, key: str, value: Any, deleted: bool) -> tuple[bytes, bytes | None]:
        return self._inner.encode(key, value, deleted)

    def apply(self, key: str, value: Any, key_bytes: bytes, value_bytes: bytes | None) -> None:
        self._inner.apply(key, value, key_bytes, value_bytes)  # staged in the replica by apply_all

    def apply_all(self, writes: Sequence[tuple[bytes, bytes | None, int]]) -> bool:
        """Staged in the replica here in any case (the Processor calls this first, with each
        write's partition; False from the faust store means `apply` follows, write by write)."""
        for key_bytes, value_bytes, partition in writes:
            self.replica.stage(key_bytes, value_bytes, partition)
        return self._inner.apply_all(writes)

    def persisted(self, partition: int, offset: int) -> None:
        self._inner.persisted(partition, offset)
        self.replica.stamp(partition, offset)


async def follow(replica: Replica, topic: str, settings: PnSettings, log: Any, *,
                 retry_s: float = 1.0) -> None:
    """Read every partition of `topic` into `replica` from the beginning, for ever (a task of
    the worker; cancelled at shutdown). Marks the replica caught up once every partition has
    been read to the high watermark of a fetch answer."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from shared.kafka.client import consumer_kwargs

    kwargs = consumer_kwargs(settings, None)
    kwargs.update(fetch_max_wait_ms=FOLLOW_FETCH_WAIT_MS, client_id=f"pn-global-{replica.name}")
    while True:
        consumer = AIOKafkaConsumer(**kwargs)
        try:
            await consumer.start()
            while topic not in await consumer.topics():  # faust creates the changelog at its start
                await asyncio.sleep(0.2)
            tps = [TopicPartition(topic, p) for p in range(replica.partitions)]
            consumer.assign(tps)
            for tp in tps:  # where this replica stands (0 at the first start, further after an error)
                consumer.seek(tp, replica.positions.get(tp.partition, 0))
            while True:
                batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
                for tp, records in batch.items():
                    replica.apply(tp.partition, records)
                replica.error = None
                if not replica.caught_up and await _at_end(consumer, tps):
                    replica.mark_caught_up()
                    log.info("global_store_loaded", store=replica.name, keys=len(replica.values))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # broker away: the replica keeps what it has and reads on
            replica.error = type(exc).__name__
            log.warning("global_store_follow_failed", store=replica.name, error=replica.error)
            await asyncio.sleep(retry_s)
        finally:
            await consumer.stop()


async def _at_end(consumer: Any, tps: Sequence[Any]) -> bool:
    for tp in tps:
        highwater = consumer.highwater(tp)
        if highwater is None or await consumer.position(tp) < highwater:
            return False
    return True
