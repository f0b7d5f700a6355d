"""True end offsets for faust's table recovery on the dev broker (opt-in: PN_EXACT_HIGHWATERS).

Tansu answers ListOffsets(latest) with the base offset of the last record batch, not the high
watermark (ARCHITECTURE.md). faust's recovery reads a changelog only up to that offset, so on a
restart the last batch of state changes is lost (memory store; measured: 14 case mappings lost
after kill -9 of intake, whose offsets were already committed, so case numbers were reused) or
the worker stops with ConsistencyError (rocksdb store: its persisted offset is "past the end").
With the setting on, the reported end is checked by reading from it: the true end is one past
the last record found. On Apache Kafka nothing is found there, so it only costs one fetch.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from shared.service.settings import PnSettings


async def true_end_offsets(settings: PnSettings, reported: Mapping[Any, int], *,
                           timeout_s: float = 30.0) -> dict[Any, int]:
    """`reported` end offsets (by topic-partition) corrected by reading from each one until every
    partition has answered a fetch and nothing more comes. Raises TimeoutError rather than
    answer low: recovering a table short is worse than a worker that fails at start."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from shared.kafka.client import consumer_kwargs

    ends = dict(reported)
    if not ends:
        return ends
    tps = {TopicPartition(tp.topic, tp.partition): tp for tp in ends}
    consumer = AIOKafkaConsumer(**consumer_kwargs(settings, None))
    await consumer.start()
    try:
        consumer.assign(list(tps))
        for atp, tp in tps.items():
            consumer.seek(atp, ends[tp])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for atp, records in batch.items():
                if records:
                    ends[tps[atp]] = max(ends[tps[atp]], records[-1].offset + 1)
            if not any(batch.values()) and all(consumer.highwater(atp) is not None for atp in tps):
                return ends
        raise TimeoutError(f"no fetch answer within {timeout_s:.0f} s for the end of {len(tps)} partitions")
    finally:
        await consumer.stop()


def use_true_highwaters(settings: PnSettings) -> None:
    """Make faust's recovery use `true_end_offsets` (process-wide; one service per process)."""
    from shared.runtime import hooks

    hooks.install_highwaters(lambda reported: true_end_offsets(settings, reported))
