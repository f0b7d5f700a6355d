"""Scale figures: billing of a national year, intake latency at a steady rate, workers 1/2/4.

    python -m bench.scale billing [--days 100000] [--workers 2]   # national year: 1.5 M care days
    python -m bench.scale workers [--days 40000]                 # billing with 1, 2, 4 workers
    python -m bench.scale latency [--rate 100] [--seconds 30]

Each command starts its own embedded broker (a fresh one per configuration, so no changelog of an
earlier run is recovered) and the service as processes via `Stack` (one `Stack` per worker, each
with its own data dir; the workers share the consumer group, 4 partitions of `pn.care.days`).
`billing` runs `--days` of the year through `--workers` workers and extrapolates linearly to
1,500,000 days: labelled as an extrapolation in the output. Closes/invoicing are not part of it
(`python -m bench.billing_throughput` measures the 12 closes).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

from shared.kafka.broker import EmbeddedBroker, ensure_topics
from shared.platform.supervisor import Stack
from shared.service.settings import PnSettings

from .common import Figure, print_table
from .on_broker import (
    ROOT,
    RssSampler,
    Workload,
    _drive,
    _produce,
    billing_workload,
    collect_outputs,
    intake_workload,
    percentile,
    tail_from_end,
)

NATIONAL_YEAR = 1_500_000


def _fresh_broker(tmp: Path) -> EmbeddedBroker:
    b = EmbeddedBroker(log_file=tmp / "broker.log").start()
    asyncio.run(ensure_topics(PnSettings(kafka_bootstrap=b.bootstrap)))
    return b


def billing_run(days: int, workers: int, timeout: float = 1800) -> Figure:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        b = _fresh_broker(root)
        stacks, samplers = [], []
        try:
            for w in range(workers):
                env = {"PN_RULES_DIR": str(ROOT / "rules")}
                stacks.append(Stack(["billing"], work_dir=root / f"w{w}", bootstrap=b.bootstrap, env=env).start(120))
            time.sleep(2 * workers)  # let the group settle after the last join (rebalance)
            for s in stacks:
                samplers.append(RssSampler(s.processes["billing"].proc.pid))
                samplers[-1].start()
            work = billing_workload(days, uuid.uuid4().hex[:8])
            ins, outs = asyncio.run(_drive(b.bootstrap, work, timeout))
        finally:
            peaks = [s.stop() for s in samplers]
            for s in stacks:
                s.stop()
            b.stop()
    seconds = max(1e-3, (max(outs.values()) - min(ins.values())) / 1000)
    return Figure(f"billing, {workers} worker(s), 4 partitions", len(outs), seconds,
                  {"outputs": f"{len(outs)}/{len(ins)}", "peak_rss_mb": "/".join(f"{p:.0f}" for p in peaks),
                   "p99_ms": f"{percentile([outs[k] - ins[k] for k in outs], 0.99):.0f}"})


WARMUP_S = 2.0
"""The first complaints of a run wait for the worker's first fetches and producer connections
(measured: the first ~0.3 s at 100/s saw 90–225 ms): they are produced but not counted in the
steady-state percentiles; their maximum is printed as `warmup_max_ms`."""


def intake_default(name: str) -> object:
    """An intake setting's default as the worker reads it (services/intake/settings.py)."""
    from services.intake.settings import Settings

    return Settings.model_fields[name].default


def latency_run(rate: float, seconds: float) -> Figure:
    """Complaints produced at a steady rate; latency = cases.opened timestamp − complaint timestamp."""
    n = int(rate * (seconds + WARMUP_S))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        b = _fresh_broker(root)
        env = {"PN_RULES_DIR": str(ROOT / "rules"), "PN_INTAKE_TICK_S": "60"}
        work = intake_workload(n, uuid.uuid4().hex[:8])
        asyncio.run(_produce(b.bootstrap, work.setup))
        stack = Stack(["intake"], work_dir=root / "intake", bootstrap=b.bootstrap, env=env).start(120)
        sampler = RssSampler(stack.processes["intake"].proc.pid)
        sampler.start()
        try:
            paced = Workload(work.service, [], work.inputs, work.output, work.match)
            ins, outs = asyncio.run(_paced(b.bootstrap, paced, rate, seconds + 60))
        finally:
            peak = sampler.stop()
            stack.stop()
            b.stop()
    steady_from = min(ins.values()) + WARMUP_S * 1000
    lat = [outs[k] - ins[k] for k in outs if ins[k] >= steady_from]
    warm = [outs[k] - ins[k] for k in outs if ins[k] < steady_from]
    return Figure(f"intake at {rate:.0f} complaints/s for {seconds:.0f} s", len(lat), seconds,
                  {"p50_ms": f"{percentile(lat, 0.5):.0f}", "p99_ms": f"{percentile(lat, 0.99):.0f}",
                   "max_ms": f"{max(lat):.0f}", "warmup_max_ms": f"{max(warm, default=0):.0f}",
                   "outputs": f"{len(outs)}/{len(ins)}", "peak_rss_mb": f"{peak:.0f}",
                   "linger_s": os.environ.get("PN_PRODUCER_LINGER_S") or f"{intake_default('producer_linger_s')} (default)"})


async def _paced(bootstrap: str, work: Workload, rate: float, timeout: float):
    """Like on_broker._drive, but one producer send every 1/rate s (in ticks of 10 ms)."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from shared.contract.events import encode
    from shared.contract.events.envelope import CONTENT_TYPE_HEADER

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await consumer.start()
    await producer.start()
    try:
        await tail_from_end(consumer, work.output)
        ins: dict = {}

        async def produce() -> None:
            start = time.monotonic()
            futures = []
            for i, (topic, ev, key) in enumerate(work.inputs):
                due = start + i / rate
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                fut = await producer.send(topic.name, encode(ev), key=topic.key_for(ev).encode(),
                                          headers=[CONTENT_TYPE_HEADER])
                futures.append((key, fut))
            for key, fut in futures:
                ins[key] = (await fut).timestamp

        task = asyncio.ensure_future(produce())
        out = await collect_outputs(consumer, work, timeout, poll_ms=100)
        await task
        return ins, out
    finally:
        await producer.stop()
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale")
    parser.add_argument("what", choices=["billing", "workers", "latency"])
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    if args.what == "billing":
        days = args.days or 100_000
        fig = billing_run(days, args.workers)
        print_table("billing, national year", [fig])
        est = NATIONAL_YEAR / fig.rate
        label = "measured" if days >= NATIONAL_YEAR else f"EXTRAPOLATED linearly from {days:,} days"
        print(f"\n1,500,000 care days at {fig.rate:,.0f}/s: {est:,.0f} s = {est / 60:.1f} min ({label}); goal < 5 min")
    elif args.what == "workers":
        figures = [billing_run(args.days or 40_000, w) for w in (1, 2, 4)]
        print_table("billing: care days with 1, 2, 4 workers on 4 partitions (2 cores)", figures, figures[0])
        print("(ratio column: relative to 1 worker)")
    else:
        fig = latency_run(args.rate, args.seconds)
        print_table("intake latency at a steady rate (goal p99 < 50 ms)", [fig])


if __name__ == "__main__":
    main()
