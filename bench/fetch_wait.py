"""Tansu holds a fetch for its whole fetch_max_wait_ms: latency of a raw aiokafka consumer at 100
records/s for waits of 1500 (faust's fixed value), 500, 100 and 20 ms.

    python -m bench.fetch_wait
"""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.kafka.broker import EmbeddedBroker


async def one(bootstrap: str, wait: int, n: int = 100) -> str:
    topic = f"fw{wait}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    await (await producer.send(topic, b"x"))
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, fetch_max_wait_ms=wait,
                                auto_offset_reset="latest", group_id=None)
    await consumer.start()
    await consumer.seek_to_end()
    await asyncio.sleep(0.5)
    lat: list[float] = []

    async def produce() -> None:
        for _ in range(n):
            await producer.send(topic, str(time.time()).encode())
            await asyncio.sleep(0.01)

    task = asyncio.ensure_future(produce())
    while len(lat) < n:
        got = await consumer.getmany(timeout_ms=2000)
        now = time.time()
        lat += [(now - float(r.value)) * 1000 for rs in got.values() for r in rs]
    await task
    await consumer.stop()
    await producer.stop()
    lat.sort()
    return f"fetch_max_wait_ms={wait}: p50={lat[n // 2]:.0f} ms p99={lat[int(n * 0.99) - 1]:.0f} ms"


def main() -> None:
    broker = EmbeddedBroker().start()
    try:
        for wait in (1500, 500, 100, 20):
            print(asyncio.run(one(broker.bootstrap, wait)))
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
