"""The baseline: raw aiokafka consume → decode → produce, the fastest pipe this machine runs.

`getmany(1000)` → `json.loads` → `send` with futures gathered per batch → commit: the table in
ARCHITECTURE.md measured 24,900 events/s on 2 cores for 50,000 events of 500 B on 4 partitions.
Every service figure is reported as a ratio to this, measured in the same run on the same broker.

`fetch_max_wait_ms`: aiokafka's default (500) is the yardstick of ARCHITECTURE.md. On the dev
broker it stalls: Tansu holds a fetch for its whole wait when a partition has nothing new, and
a run of 20,000 waits out one or two such fetches (~0.4 s each), hence ~24,000 or ~15,700/s at
random. At the 10 ms our workers use on the dev profile (`PN_FETCH_MAX_WAIT_MS`) the same pipe
runs at ~42,000/s, steadily: `bench.on_broker` reports the ratio to both.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from .common import Figure, payload

AIOKAFKA_FETCH_WAIT_MS = 500
"""aiokafka's default `fetch_max_wait_ms`: the yardstick's (see the module docstring)."""


async def fill(bootstrap: str, topic: str, n: int, partitions: int = 4, make=payload) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=262_144)
    await producer.start()
    try:
        futures = [await producer.send(topic, make(i), key=str(i).encode()) for i in range(n)]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def raw_pipe(bootstrap: str, n: int, partitions: int = 4, fetch_max_wait_ms: int = AIOKAFKA_FETCH_WAIT_MS) -> Figure:
    src, dst = f"bench.raw.in.{uuid.uuid4().hex[:6]}", f"bench.raw.out.{uuid.uuid4().hex[:6]}"
    await fill(bootstrap, src, n, partitions)
    consumer = AIOKafkaConsumer(src, bootstrap_servers=bootstrap, group_id=f"g-{src}", auto_offset_reset="earliest",
                                enable_auto_commit=False, session_timeout_ms=6000, heartbeat_interval_ms=1000,
                                max_poll_records=1000, fetch_max_wait_ms=fetch_max_wait_ms)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=262_144)
    await producer.start()
    await consumer.start()
    done, started = 0, None
    try:
        while done < n:
            batch = await consumer.getmany(timeout_ms=500, max_records=1000)
            if not batch:
                continue
            started = started or time.perf_counter()
            futures = []
            for records in batch.values():
                for r in records:
                    value = json.loads(r.value)
                    futures.append(await producer.send(dst, json.dumps(value).encode(), key=r.key))
            await asyncio.gather(*futures)
            await consumer.commit()
            done += sum(len(rs) for rs in batch.values())
        elapsed = time.perf_counter() - (started or time.perf_counter())
    finally:
        await consumer.stop()
        await producer.stop()
    extra = {"partitions": str(partitions)} | ({"fetch_max_wait_ms": str(fetch_max_wait_ms)} if fetch_max_wait_ms != AIOKAFKA_FETCH_WAIT_MS else {})
    return Figure("raw aiokafka getmany → json → send (baseline)", done, elapsed, extra)
