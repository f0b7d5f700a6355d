"""kill -9 billing twice in the middle of a year of care days and again during the month closes, restart
it each time: every billable day ends up on exactly one invoice line, and no invoice number is
ever published with two different contents."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.contract.events import decode
from shared.contract.topics import ALERTS_OPS, BILLING_DRAFTS, BILLING_INVOICES, CARE_DAYS, COMMANDS
from shared.kafka.client import consumer_kwargs
from shared.kafka.io import events_of, produce, read_all, wait_for
from shared.platform.supervisor import Stack
from shared.service.settings import PnSettings

from ..conftest import ROOT
from ..unit.billing.factories import barrier, barrier_done, close, duplicates, year_of_days

pytestmark = [pytest.mark.broker, pytest.mark.slow]

BILLABLE, CHUNK = 6_000, 500
YEAR = random.Random().randrange(2200, 2900)


def invoices_of(records) -> list:
    return [e for e in events_of(records) if e.type == "pn.invoice.issued" and e.data.period.startswith(f"{YEAR}-")]


class FirstDraft:
    """Watches the drafts topic from its current end and returns at the first draft of YEAR:
    the worker is then between a close and the invoices it drafted."""

    def __init__(self, settings: PnSettings) -> None:
        self.consumer = AIOKafkaConsumer(**consumer_kwargs(settings, None))
        self.tp = TopicPartition(BILLING_DRAFTS.name, 0)

    async def start(self) -> None:
        await self.consumer.start()
        self.consumer.assign([self.tp])
        await self.consumer.seek_to_end(self.tp)
        await self.consumer.position(self.tp)

    async def wait(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                batch = await self.consumer.getmany(self.tp, timeout_ms=20)
                if any(decode(r.value).data.period.startswith(f"{YEAR}-") for r in batch.get(self.tp, [])):
                    return
            raise TimeoutError("no draft of the year")
        finally:
            await self.consumer.stop()


def our_alerts(records, tag: str) -> set[str]:
    return {e.id for e in events_of(records) if e.data.subject.startswith(tag)}


def net(invoices) -> Decimal:
    by_number = {e.data.invoice_number: e.data.total for e in invoices}
    return sum(by_number.values(), Decimal("0.00"))


async def test_kill_9_mid_stream_and_mid_close_bills_every_day_exactly_once(broker, tmp_path):
    settings = PnSettings(kafka_bootstrap=broker.bootstrap)
    tag = f"k{YEAR}"
    days = year_of_days(tag, YEAR, BILLABLE, voluntary=200, in_region=200)
    dups, _ = duplicates(days, 100)
    stream = days + dups
    random.Random(7).shuffle(stream)
    env = {"PN_RULES_DIR": str(ROOT / "rules"), "PN_EXACT_HIGHWATERS": "true"}
    stack = Stack(["billing"], work_dir=tmp_path, bootstrap=broker.bootstrap, env=env)
    await asyncio.to_thread(stack.start, 90)
    try:
        # 1. kill -9 twice while care days stream in: each time once more duplicate alerts show it is busy
        sent = 0
        for third in (1, 2):
            alerted = len(our_alerts(await read_all(settings, [ALERTS_OPS]), tag))
            while sent < len(stream) * third // 3:
                await produce(settings, CARE_DAYS, stream[sent:sent + CHUNK])
                sent += CHUNK
            await wait_for(settings, [ALERTS_OPS], lambda rs, n=alerted: len(our_alerts(rs, tag)) > n,
                           timeout=60, poll_s=0.05)
            stack.processes["billing"].kill9()
            await asyncio.to_thread(stack.restart, "billing")
        await produce(settings, CARE_DAYS, stream[sent:])  # the rest of the stream
        await produce(settings, CARE_DAYS, barrier(f"{tag}-1"))
        await wait_for(settings, [ALERTS_OPS], lambda rs: barrier_done(f"{tag}-1")(events_of(rs)), timeout=90)

        # 2. kill -9 during the closes: as soon as the first draft of the year is out, with half
        #    of the closes still to come (however fast the worker is, the kill is mid-sequence)
        watch = FirstDraft(settings)
        await watch.start()
        await produce(settings, COMMANDS, [close(f"{YEAR}-{m:02d}", tag) for m in range(1, 7)])
        await watch.wait()
        stack.processes["billing"].kill9()
        at_kill = len({e.data.invoice_number for e in invoices_of(await read_all(settings, [BILLING_INVOICES]))})
        await produce(settings, COMMANDS, [close(f"{YEAR}-{m:02d}", tag) for m in range(7, 13)])
        started = time.monotonic()
        await asyncio.to_thread(stack.restart, "billing")
        expected = Decimal(BILLABLE) * Decimal("120.00")
        await wait_for(settings, [BILLING_INVOICES], lambda rs: net(invoices_of(rs)) == expected, timeout=90)
        recovered_s = time.monotonic() - started
        await asyncio.sleep(1.0)
        invoices = invoices_of(await read_all(settings, [BILLING_INVOICES]))
    finally:
        stack.stop()

    print(f"\nbilling crash: {at_kill}/24 invoices out at kill -9 during the closes, all {recovered_s:.1f} s "
          f"after restart, {len(invoices) - len({e.id for e in invoices})} re-emitted with the same id")
    contents: dict[str, set[str]] = defaultdict(set)
    for e in invoices:
        contents[e.data.invoice_number].add(e.data.model_dump_json(exclude={"statistics"}))
    assert at_kill < 24, "the kill came after the closes: nothing was tested"
    reused = sorted(n for n, c in contents.items() if len(c) > 1)
    assert not reused, f"invoice numbers with two contents: {reused}"
    lines_of: dict[str, list[str]] = defaultdict(list)
    for invoice in {e.data.invoice_number: e.data for e in invoices}.values():
        for line in invoice.lines:
            for care_day_id in line.care_day_ids:
                lines_of[care_day_id].append(invoice.invoice_number)
    twice = {i: n for i, n in lines_of.items() if len(n) > 1}
    assert not twice, f"days on two invoice lines: {sorted(twice.items())[:5]} of {len(twice)}"
    # every billable (patient, date) is billed once, under its own id or its same-day twin's
    billable = {(d.data.patient_ref, d.data.care_date): d.data.care_day_id for d in days if "-B" in d.data.stay_id}
    twins = {f"{cid}-twin": cid for cid in billable.values()}
    billed = {twins.get(i, i) for i in lines_of}
    assert billed == set(billable.values())
    assert len(lines_of) == BILLABLE and net(invoices) == expected
