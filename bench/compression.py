"""Bytes and CPU per event of each Kafka compression codec, for our producers' default
(`PN_COMPRESSION`, shared/service/settings.py).

    python -m bench.compression [N]          # N events of the demo scenario (default 20,000)
    python -m bench --only compression

No broker: the record batches are built and read by aiokafka's own record code, as its producer
and its fetcher do (the broker stores a producer's batch as it is). Inputs are the demo
scenario's realistic events (complaints, support visits, care days; shared/apps/demo/scenario.py),
encoded as our producers encode them, in batches of 1 (a quiet producer: linger 5 ms with nothing
else to send), 50 and 500 records (a backlog). Per event: the bytes of the batch on the wire and in
the log, the producer's CPU to build it (compression included) and the consumer's to read it
(decompression included), one core, best of three.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from aiokafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

from shared.contract.events import encode

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
BATCH_SIZES = (1, 50, 500)


def events(n: int) -> list[tuple[bytes | None, bytes]]:
    from shared.apps.demo.scenario import Scenario

    scenario = Scenario(scale=n / 2_000, seed=13)
    out: list[tuple[bytes | None, bytes]] = []
    for step in scenario.steps():
        for _topic, event in step.items:
            value = event if isinstance(event, bytes) else encode(event)
            out.append((None, value))
    return out[:n]


def _build(records: Sequence[tuple[bytes | None, bytes]], codec: int) -> bytes:
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=codec, is_transactional=0, producer_id=-1,
                                        producer_epoch=-1, base_sequence=-1, batch_size=1 << 24)
    for i, (key, value) in enumerate(records):
        builder.append(i, timestamp=None, key=key, value=value, headers=[("content-type", b"x")])
    return bytes(builder.build())


def measure(records: Sequence[tuple[bytes | None, bytes]], codec: int, batch: int) -> tuple[float, float, float]:
    """(bytes, producer µs, consumer µs) per event."""
    chunks = [records[i:i + batch] for i in range(0, len(records), batch)]
    best_build = best_read = float("inf")
    size = 0
    for _ in range(3):
        started = time.process_time()
        built = [_build(chunk, codec) for chunk in chunks]
        best_build = min(best_build, time.process_time() - started)
        started = time.process_time()
        for raw in built:
            for record in DefaultRecordBatch(raw):
                record.value  # noqa: B018 - what a consumer reads
        best_read = min(best_read, time.process_time() - started)
        size = sum(len(raw) for raw in built)
    n = len(records)
    return size / n, best_build / n * 1e6, best_read / n * 1e6


def main(n: int = 20_000) -> None:
    records = events(n)
    raw = sum(len(v) for _, v in records) / len(records)
    print(f"{len(records)} events of the demo scenario, {raw:.0f} B of JSON each on average")
    print("| codec | batch | bytes/event | ratio | producer µs/event | consumer µs/event |")
    print("| --- | --- | --- | --- | --- | --- |")
    for batch in BATCH_SIZES:
        for name, codec in CODECS.items():
            size, build, read = measure(records, codec, batch)
            print(f"| {name} | {batch} | {size:.0f} | {size / raw:.2f} | {build:.1f} | {read:.1f} |")


def run(bootstrap: str, baseline: object, events: int) -> None:
    main(events)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
