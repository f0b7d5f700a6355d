"""faust's own ceiling in the same run, and our batched feed's, with no service code.

    python -m bench --only faust_ceiling          # after the raw baseline, on the same broker
    python -m bench.faust_ceiling [N]             # its own broker and baseline

A worker process built like every service's (`shared.runtime.app.make_faust_app`: the same
settings, fetch wait, linger, batch size) relays care days: `orjson.loads` each value →
`app.producer.send()` per event, acks gathered per batch. No tables, no validation, no dedup.
Two workers, one after the other:
- `take`: the fastest faust pattern of ARCHITECTURE.md, one agent over
  `take_events(PN_BATCH_MAX, 0.01)` (faust's per-record stream);
- `feed`: the same work behind `shared.runtime.feed.BatchFeed` (fetched records handed over in
  lists; what every service uses).
Their ratios to the raw pipe are what each consume path allows on this machine; a service's ratio
divided by the feed's is how much of it our code keeps (bench/RESULTS.md). One warm-up event is
sent and awaited first, so group join and assignment are not in the figure (the services'
figures start after /health, which waits for the same).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

from shared.contract.events import CareDayRecorded
from shared.contract.topics import Topic
from shared.kafka.broker import ensure_topics, free_port
from shared.service.settings import PnSettings

from .common import Figure, print_table
from .on_broker import ROOT, RssSampler, Workload, _drive, percentile

IN = Topic("bench.ceiling.in", "care_day_id", (CareDayRecorded,), "bench input", key_fields=("care_day_id",))
OUT = Topic("bench.ceiling.out", "care_day_id", (CareDayRecorded,), "bench output", key_fields=("care_day_id",))


def create_app(settings: PnSettings, path: str = "take") -> Any:
    """The ceiling worker (run in its own process by `measure`): `path` is take or feed."""
    import orjson

    from shared.runtime.app import make_faust_app
    from shared.runtime.feed import BatchFeed
    from shared.service.spec import ServiceSpec

    spec = ServiceSpec(name="bench-ceiling", port=6099, summary="the faust ceiling bench", inputs=(IN,),
                       settings=PnSettings, app="bench.faust_ceiling:create_app")
    app = make_faust_app(spec, settings)
    channel = app.topic(IN.name, key_type=bytes, value_type=bytes, key_serializer="raw",
                        value_serializer="raw", partitions=IN.partitions)

    async def relay(messages: Any) -> None:
        acks = []
        for m in messages:
            orjson.loads(m.value)
            acks.append(await app.producer.send(OUT.name, m.key, m.value, None, None, None))
        await asyncio.gather(*acks)

    if path == "take":
        @app.agent(channel, name="bench-ceiling")
        async def take(stream: Any) -> None:
            async for events in stream.take_events(settings.batch_max, 0.01):
                await relay([e.message for e in events])
    else:
        class Relay:  # what BatchFeed asks of a Processor
            async def process_batch(self, messages: Any, _in_context: Any) -> None:
                await relay(messages)

        feed = BatchFeed(app, [IN.name], Relay(), batch_max=settings.batch_max)  # type: ignore[arg-type]

        @app.agent(channel, name="bench-ceiling")
        async def fed(stream: Any) -> None:
            await feed.run(stream)

    return app


def _workload(n: int, tag: str) -> Workload:
    from tests.unit.billing.factories import year_of_days

    days = year_of_days(tag, 2198, n)

    def match(key: bytes | None, _value: bytes | None) -> Any:
        return key.decode() if key else None

    return Workload("faust-ceiling", [], [(IN, e, e.data.care_day_id) for e in days], OUT.name, match)


LABELS = {"take": "faust ceiling: take_events → loads → send, no tables",
          "feed": "our feed: BatchFeed → loads → send, no tables"}


def measure(bootstrap: str, n: int, path: str = "take", timeout: float = 600.0) -> Figure:
    asyncio.run(ensure_topics(PnSettings(kafka_bootstrap=bootstrap), [IN, OUT]))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PN_")},
           "PN_KAFKA_BOOTSTRAP": bootstrap, "PN_PROFILE": "dev", "PN_LOG_LEVEL": "WARNING",
           "PN_WEB_PORT": str(free_port()), "PN_DATA_DIR": tempfile.mkdtemp(prefix="pn-ceiling-"),
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "bench.faust_ceiling", "--worker", path], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    sampler = RssSampler(proc.pid)
    sampler.start()
    try:
        tag = uuid.uuid4().hex[:8]
        _ins, warm = asyncio.run(_drive(bootstrap, _workload(1, f"w{tag}"), 120))
        if not warm:
            raise RuntimeError("the faust ceiling worker did not answer within 120 s")
        ins, outs = asyncio.run(_drive(bootstrap, _workload(n, tag), timeout))
    finally:
        peak = sampler.stop()
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    latencies = [outs[k] - ins[k] for k in outs]
    seconds = max(1e-3, (max(outs.values(), default=0) - min(ins.values())) / 1000)
    return Figure(LABELS[path], len(outs), seconds,
                  {"p50_ms": f"{percentile(latencies, 0.5):.0f}", "p99_ms": f"{percentile(latencies, 0.99):.0f}",
                   "peak_rss_mb": f"{peak:.0f}", "outputs": f"{len(outs)}/{len(ins)}"})


def run(bootstrap: str, baseline: Figure, events: int) -> None:
    n = max(20_000, events)
    print_table("consume paths without service code (same broker, same run)",
                [measure(bootstrap, n, path) for path in LABELS], baseline)


def _worker(path: str) -> None:
    from shared.runtime.app import run_worker
    from shared.service.logging import configure

    settings = PnSettings()
    configure(service="bench-ceiling", level=settings.log_level, fmt="json")
    run_worker(create_app(settings, path), log_level=settings.log_level)


if __name__ == "__main__":
    if "--worker" in sys.argv:
        _worker(sys.argv[-1])
    else:
        from .common import broker
        from .raw_pipe import raw_pipe

        n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
        with broker() as (b, _settings):
            baseline = asyncio.run(raw_pipe(b.bootstrap, n))
            started = time.monotonic()
            print_table("consume paths without service code", [baseline, *(measure(b.bootstrap, n, p) for p in LABELS)],
                        baseline)
            print(f"({time.monotonic() - started:.0f} s)")
