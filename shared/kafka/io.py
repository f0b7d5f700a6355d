"""Small producer/reader helpers over aiokafka for tools: tests, demo, reports, dead-letter ops.

Reading goes by partition assignment (no consumer group), from the beginning to the current end,
so a report or a test sees exactly what is on the topic now. Tansu reports the end offset low by
up to a batch, so `read_all` keeps reading until the topic has been idle for `idle_s`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from shared.contract.events import Envelope, encode
from shared.contract.events.envelope import CONTENT_TYPE_HEADER
from shared.contract.topics import Topic
from shared.service.settings import PnSettings


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int


async def produce(settings: PnSettings, topic: Topic, events: Iterable[Envelope | bytes], *,
                  keys: Sequence[bytes | None] | None = None) -> int:
    """Publish events (or raw bytes) to a topic; keys default to the catalog's key field."""
    from aiokafka import AIOKafkaProducer

    from shared.kafka.client import producer_kwargs

    producer = AIOKafkaProducer(**producer_kwargs(settings))
    await producer.start()
    try:
        futures = []
        for i, ev in enumerate(events):
            if isinstance(ev, bytes):
                value, key = ev, (keys[i] if keys else None)
            else:
                value, key = encode(ev), (keys[i] if keys else topic.key_for(ev).encode())
            futures.append(await producer.send(topic.name, value, key=key, headers=[CONTENT_TYPE_HEADER]))
        await asyncio.gather(*futures)
        return len(futures)
    finally:
        await producer.stop()


def new_producer(settings: PnSettings) -> Any:
    """An aiokafka producer for a tool (not started), with the settings' security."""
    from aiokafka import AIOKafkaProducer

    from shared.kafka.client import producer_kwargs

    return AIOKafkaProducer(**producer_kwargs(settings))


def new_consumer(settings: PnSettings, group_id: str | None = None) -> Any:
    """An aiokafka consumer for a tool (not started): no group, manual assignment by default."""
    from aiokafka import AIOKafkaConsumer

    from shared.kafka.client import consumer_kwargs

    return AIOKafkaConsumer(**consumer_kwargs(settings, group_id=group_id))


def topic_partition(topic: str, partition: int) -> Any:
    from aiokafka import TopicPartition

    return TopicPartition(topic, partition)


async def topic_partitions(consumer: Any, topic: str, *, attempts: int = 100) -> list[Any]:
    """Every partition of `topic` as aiokafka TopicPartitions, for a started consumer that has not
    subscribed (it learns a topic's metadata only when asked; [] if the topic never shows up)."""
    from aiokafka import TopicPartition

    for _ in range(attempts):
        parts = consumer.partitions_for_topic(topic)
        if parts:
            return [TopicPartition(topic, p) for p in sorted(parts)]
        await refresh_metadata(consumer)
        await asyncio.sleep(0.1)
    return []


async def refresh_metadata(consumer: Any) -> None:
    """Ask the broker for fresh metadata (a topic created a moment ago): aiokafka has no public
    call for it; the private one is checked at start-up with the others (shared/runtime/hooks.py)."""
    await consumer._client.force_metadata_update()  # noqa: SLF001


async def read_all(settings: PnSettings, topics: Sequence[Topic | str], *, idle_s: float = 1.0,
                   max_wait_s: float = 60.0, progress: Callable[[int], None] | None = None) -> list[Record]:
    """Every record currently on the topics (all partitions), in per-partition order."""
    from aiokafka import AIOKafkaConsumer

    from shared.kafka.client import consumer_kwargs

    names = [getattr(t, "name", t) for t in topics]
    consumer = AIOKafkaConsumer(**{**consumer_kwargs(settings, None), "max_partition_fetch_bytes": 8 * 1048576})
    try:
        await consumer.start()
    except BaseException:
        await consumer.stop()  # else aiokafka warns "Unclosed AIOKafkaConsumer" at exit
        raise
    records: list[Record] = []
    try:
        tps = [tp for name in names for tp in await topic_partitions(consumer, name)]
        if not tps:
            return records
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        started = idle_since = time.monotonic()
        while time.monotonic() - started < max_wait_s:
            batch = await consumer.getmany(timeout_ms=100, max_records=5000)
            got = [r for rs in batch.values() for r in rs]
            if got:
                idle_since = time.monotonic()
                records += [Record(r.topic, r.partition, r.offset, r.key, r.value, r.timestamp) for r in got]
                if progress:
                    progress(len(records))
                continue
            positions = {tp: await consumer.position(tp) for tp in tps}
            at_end = all(positions[tp] >= ends.get(tp, 0) for tp in tps)
            if at_end and time.monotonic() - idle_since >= idle_s:
                break
    finally:
        await consumer.stop()
    return records


async def wait_for(settings: PnSettings, topics: Sequence[Topic | str], predicate: Callable[[list[Record]], bool],
                   *, timeout: float = 60.0, poll_s: float = 0.5) -> list[Record]:
    """Read the topics until `predicate(records)` holds; raise TimeoutError with the last count."""
    deadline = time.monotonic() + timeout
    records: list[Record] = []
    while time.monotonic() < deadline:
        records = await read_all(settings, topics, idle_s=0.2, max_wait_s=max(1.0, deadline - time.monotonic()))
        if predicate(records):
            return records
        await asyncio.sleep(poll_s)
    raise TimeoutError(f"condition not met within {timeout:.0f} s ({len(records)} records on {list(map(str, topics))})")


def events_of(records: Iterable[Record]) -> list[Any]:
    """Decode records into envelopes, skipping what does not decode."""
    from shared.contract.events import decode

    out = []
    for r in records:
        try:
            out.append(decode(r.value or b""))
        except Exception:
            continue
    return out


async def group_lag(settings: PnSettings, group: str, topics: Sequence[Topic | str]) -> int:
    """Records the consumer group has not committed yet (approximate on Tansu: its end offsets
    read low by up to a batch, so callers add a short settle time). The group is only asked for
    its committed offsets; this consumer never joins it."""
    from aiokafka import AIOKafkaConsumer

    from shared.kafka.client import consumer_kwargs

    names = [getattr(t, "name", t) for t in topics]
    consumer = AIOKafkaConsumer(**consumer_kwargs(settings, group))
    await consumer.start()
    try:
        tps = [tp for name in names for tp in await topic_partitions(consumer, name, attempts=2)]
        ends = await consumer.end_offsets(tps) if tps else {}
        lag = 0
        for tp in tps:
            committed = await consumer.committed(tp)
            lag += max(0, ends[tp] - (committed or 0))
        return lag
    finally:
        await consumer.stop()


async def wait_consumed(settings: PnSettings, group: str, topics: Sequence[Topic | str], *,
                        deadline: float, settle_s: float = 1.5) -> bool:
    """Wait until `group` has committed everything on `topics` (or `deadline`, a monotonic time,
    passes; False then). Then `settle_s` more: Tansu reports end offsets up to a batch low.

    For callers that must not let one topic overtake another: a service reads its topics side
    by side, so records produced to one topic after another may be processed before it."""
    while time.monotonic() < deadline:
        try:
            lag = await group_lag(settings, group, topics)
        except Exception:  # noqa: BLE001 - the group or topic may not exist yet: ask again
            lag = 1
        if lag == 0:
            await asyncio.sleep(settle_s)
            return True
        await asyncio.sleep(0.5)
    return False
