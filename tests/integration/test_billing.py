"""Billing on the real broker: a year of out-of-region compulsory care (15,467 billable days for
Gävleborg and Uppsala, voluntary and in-region days, 100 duplicates) closed month by month
invoices exactly 1,856,040.00; ten invoiced days cancelled are credited 1,200.00 at the next close.

The year is unique to this module, so invoices of other tests on the shared broker are not ours."""

from __future__ import annotations

import asyncio
import json
import random
import urllib.request
from collections import Counter
from decimal import Decimal

import pytest

from shared.contract.topics import (
    ALERTS_OPS,
    BILLING_INVOICES,
    CARE_DAYS,
    COMMANDS,
    FINANCE_POSTINGS,
)
from shared.kafka.io import events_of, produce, read_all, wait_for
from shared.platform.supervisor import Stack
from shared.service.settings import PnSettings
from shared.web.auth import new_token

from ..conftest import ROOT
from ..unit.billing.factories import barrier, barrier_done, cancel, close, duplicates, year_of_days

pytestmark = pytest.mark.broker

BILLABLE, VOLUNTARY, IN_REGION, DUPLICATES = 15_467, 400, 400, 100
YEAR = random.Random().randrange(2200, 2900)
TOKEN, ENTRY = new_token("officer-test", "officer")


@pytest.fixture(scope="module")
def stack(broker, tmp_path_factory):
    env = {"PN_RULES_DIR": str(ROOT / "rules"), "PN_EXACT_HIGHWATERS": "true", "PN_TOKENS": ENTRY.line()}
    s = Stack(["billing"], work_dir=tmp_path_factory.mktemp("billing"), bootstrap=broker.bootstrap, env=env)
    s.start(90)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def broker_settings(broker) -> PnSettings:
    return PnSettings(kafka_bootstrap=broker.bootstrap)


def mine(records, topic_filter):
    return [e for e in events_of(records) if topic_filter(e)]


def of_year(e) -> bool:
    return e.type == "pn.invoice.issued" and e.data.period.startswith(f"{YEAR}-")


def total(invoices) -> Decimal:
    return sum((e.data.total for e in invoices), Decimal("0.00"))


async def wait_barrier(settings: PnSettings, tag: str) -> list:
    await produce(settings, CARE_DAYS, barrier(tag))
    return events_of(await wait_for(settings, [ALERTS_OPS], lambda rs: barrier_done(tag)(events_of(rs)), timeout=90))


async def wait_invoices(settings: PnSettings, expected_total: Decimal, timeout: float = 60) -> list:
    await wait_for(settings, [BILLING_INVOICES],
                   lambda rs: total({e.id: e for e in mine(rs, of_year)}.values()) == expected_total, timeout=timeout)
    await asyncio.sleep(0.5)
    return mine(await read_all(settings, [BILLING_INVOICES]), of_year)


@pytest.fixture(scope="module")
async def year(stack, broker_settings):
    tag = f"b{YEAR}"
    days = year_of_days(tag, YEAR, BILLABLE, voluntary=VOLUNTARY, in_region=IN_REGION)
    dups, alerts_expected = duplicates(days, DUPLICATES)
    await produce(broker_settings, CARE_DAYS, days + dups)
    alerts = await wait_barrier(broker_settings, f"{tag}-1")
    await produce(broker_settings, COMMANDS, [close(f"{YEAR}-{m:02d}", tag) for m in range(1, 13)])
    invoices = await wait_invoices(broker_settings, Decimal(BILLABLE) * Decimal("120.00"))
    return {"tag": tag, "days": days, "invoices": invoices, "alerts": alerts, "alerts_expected": alerts_expected}


async def test_closing_the_twelve_months_invoices_exactly_1_856_040(year):
    invoices = {e.id: e for e in year["invoices"]}.values()
    assert total(invoices) == Decimal("1856040.00")
    numbers = Counter(e.data.invoice_number for e in invoices)
    assert set(numbers.values()) == {1}
    assert numbers.keys() == {f"PN-{YEAR}-{m:02d}-{r}" for m in range(1, 13) for r in ("21", "03")}
    billed = [i for e in invoices for line in e.data.lines for i in line.care_day_ids]
    assert len(billed) == len(set(billed)) == 15_467
    for e in invoices:
        assert {line.agreement_id for line in e.data.lines} == {f"mellanlansavtal-{e.data.home_region}"}
        assert all(line.amount == line.unit_price * line.quantity == Decimal(120) * len(line.care_day_ids)
                   for line in e.data.lines)
        assert e.data.statistics["billable_days"] == e.data.statistics["days_on_invoice"]
    not_billed = Counter()
    for e in invoices:
        if e.data.home_region == "21":
            not_billed.update(e.data.statistics["not_billed"])
    assert not_billed == {"voluntary": VOLUNTARY}


async def test_duplicates_count_once_and_same_patient_same_day_raises_an_ops_alert(year):
    dup_alerts = {e.data.alert_id for e in year["alerts"]
                  if e.data.rule_id == "billing.duplicate_care_day" and e.data.subject.startswith(year["tag"])
                  and "-bar" not in e.data.subject}
    assert len(dup_alerts) == year["alerts_expected"] == 50


def test_the_log_names_invoices_but_no_patient(year, stack):
    log = stack.processes["billing"].log_path.read_text(encoding="utf-8", errors="replace")
    assert f"PN-{YEAR}-01-21" in log and "invoice_issued" in log
    assert f"pat-{year['tag']}" not in log


async def test_each_invoice_posts_its_income_to_the_administration_and_the_namnds_share(year, broker_settings):
    postings = {e.data.posting_id: e.data for e in events_of(await read_all(broker_settings, [FINANCE_POSTINGS]))
                if e.type == "pn.ledger.posted" and e.data.posting_id.startswith(f"billing:PN-{YEAR}-")}
    income = {pid: p for pid, p in postings.items() if ":pn-andel" not in pid}
    assert len(income) == 24 and len(postings) == 24 * 3
    assert sum((p.amount for p in income.values()), Decimal(0)) == Decimal("1856040.00")
    assert {(p.cost_centre, p.account_group) for p in income.values()} == {("5100", "revenue")}
    share = {p.cost_centre: Decimal(0) for p in postings.values()}
    for p in postings.values():
        if ":pn-andel" in p.posting_id:
            share[p.cost_centre] += p.amount
    # 15,467 days × 32.33 kr = 500,048.11 kr: the plan's 0.5 Mkr a year to the nämnd (6103)
    assert share == {"5100": Decimal("-500048.11"), "6103": Decimal("500048.11")}


async def test_summary_view_gives_days_and_amounts_per_home_region_and_month(year, stack):
    port = stack.processes["billing"].web_port
    request = urllib.request.Request(f"http://127.0.0.1:{port}/billing/summary?year={YEAR}",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    body = json.loads(await asyncio.to_thread(lambda: urllib.request.urlopen(request, timeout=10).read()))
    assert body["days"] == 15_467 and body["net"] == "1856040.00"
    assert len(body["rows"]) == 24 and {r["home_region"] for r in body["rows"]} == {"21", "03"}
    with pytest.raises(urllib.error.HTTPError) as denied:
        await asyncio.to_thread(urllib.request.urlopen, f"http://127.0.0.1:{port}/billing/summary?year={YEAR}", None, 10)
    assert denied.value.code == 401


async def test_cancelling_ten_invoiced_days_credits_1_200_at_the_next_close(year, broker_settings):
    invoiced = [i for e in year["invoices"] for line in e.data.lines for i in line.care_day_ids]
    chosen = random.Random(1).sample(invoiced, 10)
    tag = year["tag"]
    await produce(broker_settings, CARE_DAYS, [cancel(i, tag) for i in chosen])  # keyed by event id: any partition
    await wait_barrier(broker_settings, f"{tag}-2")
    await produce(broker_settings, COMMANDS, [close(f"{YEAR + 1}-01", tag)])
    after = await wait_invoices(broker_settings, Decimal("1856040.00") - Decimal("1200.00"))
    new = [e for e in {e.id: e for e in after}.values() if e.data.credits]
    assert sorted(c.care_day_id for e in new for c in e.data.credits) == sorted(chosen)
    assert sum((c.amount for e in new for c in e.data.credits), Decimal(0)) == Decimal("1200.00")
    assert all(e.data.invoice_number.endswith("-2") and not e.data.lines for e in new)
