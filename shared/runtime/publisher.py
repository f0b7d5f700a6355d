"""Publishing a batch's records through faust's producer, and awaiting the broker's acks.

`FaustPublisher` fills one aiokafka record batch per partition (the `batched_publish` hook,
shared/runtime/hooks.py); `SendPublisher` does the same through faust's public `send`, one
future per record: the fallback with the hook off (`PN_HOOKS_OFF=batched_publish`), and the
measure of what the hook buys (bench/RESULTS.md, "Private hooks").
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any

import faust

from shared.service.logging import get_logger


class Ack:
    """A record's acknowledgement: where the broker put it."""

    __slots__ = ("partition", "offset")

    def __init__(self, partition: int, offset: int) -> None:
        self.partition, self.offset = partition, offset


class FaustPublisher:
    """`Publisher` over faust's producer client, in record batches: a publish fills one aiokafka
    record batch per partition (`create_batch`/`send_batch`) instead of one `send` per record,
    which costs a future, a metadata lookup and the accumulator's bookkeeping per record
    (bench/RESULTS.md, sixth round). Partitions are chosen by the client's own partitioner, as
    `send` chooses them; a record's offset is its batch's base offset plus its place in it."""

    RETRIES = 8

    def __init__(self, app: faust.App) -> None:
        self._app = app

    def send(self, topic: str, key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]],
             partition: int | None = None) -> Awaitable[object]:
        return asyncio.ensure_future(self.publish([(topic, key, value, headers, partition)]))

    async def publish(self, records: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Send every record, then await the acks in order. On a failed ack, everything from
        that record on is sent again, in order, after a back-off: a later version of a key is
        never overtaken by an earlier one (the resent records keep their ids, so a second copy
        is a duplicate the readers skip). After the last attempt the error propagates: the
        Processor rolls the batch back and the worker crashes and replays it."""
        start, results = 0, []
        for attempt in range(self.RETRIES):
            try:
                placed = await self._send(records[start:])
                for future, partition, index in placed:
                    base = await future
                    results.append(Ack(base.partition if partition < 0 else partition, base.offset + index))
                    start += 1
                return results
            except Exception as exc:
                if attempt == self.RETRIES - 1:
                    raise
                get_logger().warning("send_retry", attempt=attempt + 1, error=type(exc).__name__,
                                     unacked=len(records) - start)
                await asyncio.sleep(min(0.1 * 2**attempt, 5.0))
        raise AssertionError("unreachable")

    async def _send(self, records: Sequence[tuple[Any, ...]]) -> list[tuple[Awaitable[Any], int, int]]:
        """Fill and submit record batches; per record (its batch's future, partition, index)."""
        client = self._app.producer._ensure_producer()  # noqa: SLF001 - faust's aiokafka client (hooks.py)
        open_batches: dict[tuple[str, int], tuple[Any, list[int]]] = {}  # (topic, partition) → builder, record indexes
        placed: list[Any] = [None] * len(records)
        known: set[str] = set()
        for i, record in enumerate(records):
            topic, key, value, headers = record[0], record[1], record[2], list(record[3])
            if topic not in known:
                await client.client._wait_on_metadata(topic)  # noqa: SLF001 - as send() does
                known.add(topic)
            partition = record[4] if len(record) > 4 and record[4] is not None else \
                client._partition(topic, None, key, value, key, value)  # noqa: SLF001 - send()'s partitioner
            slot = (topic, partition)
            entry = open_batches.get(slot)
            if entry is None:
                entry = open_batches[slot] = (client.create_batch(), [])
            if entry[0].append(key=key, value=value, timestamp=None, headers=headers) is None:
                await self._submit(client, slot, entry, placed)  # full: send it, start the next
                entry = open_batches[slot] = (client.create_batch(), [])
                if entry[0].append(key=key, value=value, timestamp=None, headers=headers) is None:
                    raise ValueError(f"a record of {len(value or b'')} bytes does not fit a record batch")
            entry[1].append(i)
        for slot, entry in open_batches.items():
            await self._submit(client, slot, entry, placed)
        return placed

    @staticmethod
    async def _submit(client: Any, slot: tuple[str, int], entry: tuple[Any, list[int]], placed: list[Any]) -> None:
        builder, indexes = entry
        builder.close()
        future = await client.send_batch(builder, slot[0], partition=slot[1])
        for place, i in enumerate(indexes):
            placed[i] = (future, slot[1], place)


class SendPublisher(FaustPublisher):
    """The same contract over `app.producer.send` (public): a future per record, retried and
    acknowledged in order as FaustPublisher does."""

    async def _send(self, records: Sequence[tuple[Any, ...]]) -> list[tuple[Awaitable[Any], int, int]]:
        send = self._app.producer.send
        placed = []
        for record in records:
            topic, key, value, headers = record[0], record[1], record[2], list(record[3])
            partition = record[4] if len(record) > 4 else None
            future = await send(topic, key, value, partition, None, headers)
            placed.append((future, -1, 0))  # the record's own metadata: its partition and offset
        return placed

