"""Billing throughput: care days/s through the billing service on the embedded broker, the
12 month closes that follow, and the service's own code (Processor + handlers + rules) in-process.

    python -m bench --only billing_throughput [--events 20000]
    python -m bench.billing_throughput [events]

On the broker: the worker runs as its own process (`pn run billing`); the clock runs from the
first care day produced until a barrier behind the last one (a duplicate pair on every
partition) raises its alerts, so it is produce → decide → store, end to end.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from shared.contract.events import encode
from shared.contract.topics import ALERTS_OPS, BILLING_INVOICES, CARE_DAYS, COMMANDS
from shared.kafka.io import events_of, produce, wait_for
from shared.platform.supervisor import Stack
from shared.service.logging import get_logger
from shared.service.processor import Message, Processor
from shared.service.settings import PnSettings
from shared.service.testing import FakePublisher, FixedClock
from tests.unit.billing.factories import barrier, barrier_done, close, year_of_days

from .common import Figure, print_table

ROOT = Path(__file__).resolve().parents[1]
YEAR = 2199


def in_process(n: int) -> Figure:
    """Processor + day handlers + durable-rules on in-memory stores: what our code costs per day."""
    from services.billing.handlers import DAY_HANDLERS, Deps
    from services.billing.rules import load_billing_rules
    from services.billing.settings import Settings
    from shared.service.state import Store

    days = year_of_days("inproc", YEAR, n)
    messages = [Message(CARE_DAYS.name, i % 4, i, None, encode(e)) for i, e in enumerate(days)]
    clock = FixedClock()
    deps = Deps(days=Store("care-days"), invoices=Store("invoices"), clock=clock, settings=Settings(),
                log=get_logger(service="billing"),
                rules=load_billing_rules(ROOT / "rules" / "billing.yaml", default_region="20"))
    proc = Processor(service="billing", handlers=DAY_HANDLERS, deps=deps, publisher=FakePublisher(), clock=clock,
                     stores=[deps.days])
    deps.emit = proc.emit

    async def go() -> float:
        started = time.perf_counter()
        for i in range(0, len(messages), 1000):
            await proc.process_batch(messages[i:i + 1000])
        return time.perf_counter() - started

    return Figure("billing in-process: Processor + handlers + rules", n, asyncio.run(go()), {"cpu": "1 core"})


async def on_broker(stack: Stack, settings: PnSettings, n: int) -> list[Figure]:
    days = year_of_days("bench", YEAR, n)
    started = time.perf_counter()
    await produce(settings, CARE_DAYS, days + barrier("bench-bar"))
    await wait_for(settings, [ALERTS_OPS], lambda rs: barrier_done("bench-bar")(events_of(rs)), timeout=600, poll_s=0.1)
    streamed = time.perf_counter() - started
    started = time.perf_counter()
    await produce(settings, COMMANDS, [close(f"{YEAR}-{m:02d}", "bench") for m in range(1, 13)])
    await wait_for(settings, [BILLING_INVOICES], lambda rs: len(events_of(rs)) >= 24, timeout=600, poll_s=0.1)
    closed = time.perf_counter() - started
    return [Figure("billing on broker: care days → decided and stored", n + 8, streamed, {"partitions": "4"}),
            Figure("billing on broker: 12 closes → 24 invoices", n, closed, {"unit": "care days invoiced"})]


def run(bootstrap: str, baseline: Figure, events: int) -> None:
    inproc = in_process(events)
    settings = PnSettings(kafka_bootstrap=bootstrap)
    with tempfile.TemporaryDirectory() as work:
        env = {"PN_RULES_DIR": str(ROOT / "rules"), "PN_LOG_LEVEL": "WARNING"}
        stack = Stack(["billing"], work_dir=Path(work), bootstrap=bootstrap, env=env).start(90)
        try:
            figures = asyncio.run(on_broker(stack, settings, events))
        finally:
            stack.stop()
    print_table("billing", [inproc, *figures], baseline)


if __name__ == "__main__":  # python -m bench.billing_throughput [events]
    import sys

    from .common import broker
    from .raw_pipe import raw_pipe

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    with broker() as (b, _settings):
        base = asyncio.run(raw_pipe(b.bootstrap, n))
        print_table("baseline (same broker, same run)", [base], base)
        run(b.bootstrap, base, n)
