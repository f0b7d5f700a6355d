"""kill -9 billing twice in the middle of a year of care days and again during the month closes, restart
it each time: every billable day ends up on exactly one invoice line, and no invoice number is
ever published with two different contents."""

from __future__ import annotations

import asyncio
import json
import random
import time
import urllib.request
from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.contract.events import CareDayRecorded, decode
from shared.contract.topics import (
    ALERTS_OPS,
    BILLING_DAYS,
    BILLING_DRAFTS,
    BILLING_INVOICES,
    CARE_DAYS,
    COMMANDS,
)
from shared.kafka.client import consumer_kwargs
from shared.kafka.io import events_of, produce, read_all, wait_for
from shared.platform.supervisor import Stack
from shared.service.settings import PnSettings
from shared.web.auth import new_token

from ..conftest import ROOT
from ..unit.billing.factories import (
    HSA,
    barrier,
    barrier_done,
    cancel,
    close,
    duplicates,
    event,
    year_of_days,
)
from .workers import processed

pytestmark = [pytest.mark.broker, pytest.mark.slow]

BILLABLE, CHUNK = 6_000, 500
YEAR = random.Random().randrange(2200, 2900)
TOKEN, ENTRY = new_token("officer-test", "officer")


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


# -- two workers in one consumer group ------------------------------------------------------------
STAYS, DAYS_PER_STAY, TWINS, CANCELS = 160, 8, 40, 30


def two_months_of_stays(tag: str, year: int) -> tuple[list, list, list]:
    """STAYS stays of DAYS_PER_STAY billable days in January and February (keyed by stay: every
    partition of pn.care.days); TWINS of those days again on another stay of the same patient under
    a *lower* care_day_id (`A` sorts before `S`), sent after the originals, so the one billed
    changes on billing's one partition; CANCELS cancels of other days (keyed by event id: any
    partition)."""
    days = []
    for s in range(STAYS):
        stay = f"{tag}-S{s:03d}"
        for d in range(DAYS_PER_STAY):
            on = date(year, 1 + d % 2, 1 + (s + d) % 28)
            days.append(event(CareDayRecorded(
                care_day_id=f"{stay}-{on.isoformat()}", stay_id=stay, patient_ref=f"pat-{stay}", home_region="21"
                if s % 2 else "03", care_region="20", care_date=on, form="inpatient",
                legal_basis=("LPT", "LRV")[d % 2], care_unit_hsa_id=HSA), id=f"ev-{stay}-{on.isoformat()}"))
    twins = [event(d.data.model_copy(update={"care_day_id": f"{tag}-A{i:03d}", "stay_id": f"{tag}-T{i:03d}"}),
                   id=f"ev-{tag}-twin{i}") for i, d in enumerate(days[5::len(days) // TWINS][:TWINS])]
    twinned = {t.data.care_day_id: d.data.care_day_id for t, d in zip(twins, days[5::len(days) // TWINS], strict=False)}
    cancelled = [d for d in days[3::len(days) // CANCELS] if d.data.care_day_id not in twinned.values()][:CANCELS]
    return days, twins, [cancel(d.data.care_day_id, tag) for d in cancelled]


async def test_two_workers_bill_every_day_once_and_the_survivor_of_a_kill_9_takes_over(broker, tmp_path):
    """Two billing workers in one group, each with partitions of pn.care.days. January with both
    running: its close sees every day, cross-stay duplicates are caught. February: the worker
    holding billing's one-partition stage (days, closes, invoices) is killed -9 mid-stream and the
    other takes it over. Every care day billed exactly once, the lower id of each cross-stay
    duplicate billed and the other alerted, cancelled days never billed, totals to the krona, the
    summary view."""
    settings = PnSettings(kafka_bootstrap=broker.bootstrap)
    year = YEAR + 1
    tag = f"w{year}"
    days, twins, cancels = two_months_of_stays(tag, year)
    by_id = {d.data.care_day_id: d.data for d in days}

    def of(month: int, events: list) -> list:
        return [e for e in events if (by_id.get(getattr(e.data, "care_day_id", "")) or e.data).care_date.month == month]

    cancelled = {c.data.care_day_id for c in cancels}
    expected = {m: Decimal(len(of(m, days)) - len(of(m, cancels))) * Decimal("120.00") for m in (1, 2)}
    env = {"PN_RULES_DIR": str(ROOT / "rules"), "PN_SESSION_TIMEOUT_S": "3", "PN_TOKENS": ENTRY.line()}
    stack = Stack(["billing"], work_dir=tmp_path, bootstrap=broker.bootstrap, env=env, workers=2)
    await asyncio.to_thread(stack.start, 90)  # one group; each worker its own data dir and port
    workers = stack.workers_of("billing")

    def billed(records, month: int) -> Decimal:
        return net([e for e in events_of(records) if e.data.period == f"{year}-{month:02d}"])

    try:
        # 1. January with both workers running
        await produce(settings, CARE_DAYS, of(1, days) + of(1, twins) + of(1, cancels) + barrier(f"{tag}-1"))
        await wait_for(settings, [ALERTS_OPS], lambda rs: barrier_done(f"{tag}-1")(events_of(rs)), timeout=30)
        held = [processed(w) for w in workers]
        assert all(any(t == CARE_DAYS.name for t, _ in h) for h in held), f"a worker without care days: {held}"
        owner = next((i for i, h in enumerate(held) if (BILLING_DAYS.name, 0) in h), 0)
        await produce(settings, COMMANDS, [close(f"{year}-01", tag)])
        await wait_for(settings, [BILLING_INVOICES], lambda rs: billed(rs, 1) == expected[1], timeout=20)
        for worker in workers:  # both answer the whole summary (global store `issued`), owner or not
            await asyncio.to_thread(_summary_reaches, worker, year, expected[1])
        # 2. February: kill -9 the one-partition stage's worker mid-stream; the other takes over
        feb = of(2, days) + of(2, twins) + of(2, cancels)
        await produce(settings, CARE_DAYS, feb[:len(feb) // 2])
        workers[owner].kill9()
        survivor = workers[1 - owner]
        await produce(settings, CARE_DAYS, feb[len(feb) // 2:] + barrier(f"{tag}-2"))
        await wait_for(settings, [ALERTS_OPS], lambda rs: barrier_done(f"{tag}-2")(events_of(rs)), timeout=45)
        await produce(settings, COMMANDS, [close(f"{year}-02", tag)])
        records = await wait_for(settings, [BILLING_INVOICES], lambda rs: billed(rs, 2) == expected[2], timeout=20)
        await asyncio.sleep(0.5)
        summary = await asyncio.to_thread(_summary, survivor, year)
        alerts = [e for e in events_of(await read_all(settings, [ALERTS_OPS])) if e.data.subject.startswith(tag)
                  and "-bar" not in e.data.subject]
        assert (BILLING_DAYS.name, 0) in processed(survivor)
    finally:
        stack.stop()

    invoices = [e for e in events_of(await read_all(settings, [BILLING_INVOICES]))
                if e.data.period.startswith(f"{year}-")]
    assert len({e.data.invoice_number for e in invoices}) == 4  # 2 months × 2 regions, no supplement
    lines_of: dict[str, list[str]] = defaultdict(list)
    for invoice in {e.data.invoice_number: e.data for e in invoices}.values():
        for line in invoice.lines:
            for care_day_id in line.care_day_ids:
                lines_of[care_day_id].append(invoice.invoice_number)
    assert all(len(n) == 1 for n in lines_of.values())
    replaced = {t.data.care_day_id: next(d.data.care_day_id for d in days if (d.data.patient_ref, d.data.care_date)
                == (t.data.patient_ref, t.data.care_date)) for t in twins}
    kept = {d.data.care_day_id for d in days} - set(replaced.values()) - cancelled | set(replaced)
    assert set(lines_of) == kept  # the lower id of each twin pair, whichever came first; no cancelled day
    assert {(a.data.facts["care_day_id"], a.data.facts["kept_care_day_id"]) for a in alerts} == {
        (old, new) for new, old in replaced.items()}
    assert summary["days"] == len(kept) and Decimal(summary["net"]) == expected[1] + expected[2] == net(invoices)
    assert len(records) > 0



def _summary_reaches(worker, year: int, net_: Decimal, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while Decimal(_summary(worker, year)["net"]) != net_:
        assert time.monotonic() < deadline, f"the summary of worker {worker.web_port} is not {net_}"
        time.sleep(0.3)


def _summary(worker, year: int) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{worker.web_port}/billing/summary?year={year}",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())
