"""Budget monitor on the real broker: the Jämtland 2023 economy replayed (year YEAR) ends on the
seed's deviations, +16, +260, +60 and +336 tkr; duplicates change nothing; a support-fee overrun
raises budget.forecast_deficit for 6103 in April and a budget increase resolves it.

Years are unique to this module: fees, billing and the e2e test post to the same cost centres."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from decimal import Decimal

import pytest

from shared.apps.demo.seed_jamtland import jamtland_2023
from shared.contract.topics import ALERTS_BUDGET, BUDGET_STATUS, FINANCE_BUDGETS, FINANCE_POSTINGS
from shared.kafka.io import events_of, produce, read_all, wait_for
from shared.platform.supervisor import Stack
from shared.service.settings import PnSettings
from shared.web.auth import new_token

from ..conftest import ROOT
from ..unit.budget.factories import env, fees_overrun
from ..unit.budget.harness import posting

pytestmark = pytest.mark.broker

YEAR, BARRIER_YEAR, OVERRUN_YEAR = 2091, 2093, 2094
TOKEN, ENTRY = new_token("officer-test", "officer")


@pytest.fixture(scope="module")
def stack(broker, tmp_path_factory):
    env_ = {"PN_RULES_DIR": str(ROOT / "rules"), "PN_EXACT_HIGHWATERS": "true", "PN_TOKENS": ENTRY.line()}
    s = Stack(["budget"], work_dir=tmp_path_factory.mktemp("budget"), bootstrap=broker.bootstrap, env=env_)
    s.start(90)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def broker_settings(broker) -> PnSettings:
    return PnSettings(kafka_bootstrap=broker.bootstrap)


def latest(events, year: int) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for e in events:
        if e.type == "pn.budget.status" and e.data.year == year and (  # keyed per cost centre and period:
                e.data.cost_centre not in out or e.data.period >= out[e.data.cost_centre]["period"]):  # latest month
            out[e.data.cost_centre] = e.data.model_dump(mode="json")
    return out


def tkr(amount: str) -> int:
    return int((Decimal(amount) / 1000).quantize(Decimal(1), rounding="ROUND_HALF_UP"))


def jamtland_envelopes(year: int):
    budgets, postings = jamtland_2023(year)
    return [env(b) for b in budgets], [env(p) for p in postings]


@pytest.fixture(scope="module")
async def replayed(stack, broker_settings):
    budgets, postings = jamtland_envelopes(YEAR)
    await produce(broker_settings, FINANCE_BUDGETS, budgets)
    await produce(broker_settings, FINANCE_POSTINGS, postings)

    def done(records) -> bool:
        total = latest(events_of(records), YEAR).get("total")
        return bool(total) and total["period"] == f"{YEAR}-12" and total["total"]["deviation"] == "335500.00"

    records = await wait_for(broker_settings, [BUDGET_STATUS], done, timeout=45)
    return latest(events_of(records), YEAR)


async def test_jamtland_replay_ends_on_the_seed_deviations(replayed):
    assert {cc: tkr(s["total"]["deviation"]) for cc, s in replayed.items()} == {
        "6101": 16, "6102": 260, "6103": 60, "total": 336}
    assert replayed["total"]["total"]["actual_ytd"] == "-3164100.00"
    assert replayed["total"]["total"]["annual_budget"] == "-3499600.00"  # −3,500 tkr (rounded, as the seed)
    assert replayed["6102"]["account_groups"]["revenue"]["deviation"] == "-51000.00"


async def test_view_returns_the_numbers_on_the_topic(replayed, stack):
    port = stack.processes["budget"].web_port
    request = urllib.request.Request(f"http://127.0.0.1:{port}/budget/{YEAR}",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    body = json.loads(await asyncio.to_thread(lambda: urllib.request.urlopen(request, timeout=10).read()))
    assert {c["cost_centre"]: c for c in body["cost_centres"]} == {k: v for k, v in replayed.items() if k != "total"}
    assert body["total"] == replayed["total"]
    with pytest.raises(urllib.error.HTTPError) as denied:
        await asyncio.to_thread(urllib.request.urlopen, f"http://127.0.0.1:{port}/budget/{YEAR}", None, 10)
    assert denied.value.code == 401


async def test_duplicates_change_nothing(replayed, broker_settings):
    def ours(records) -> list[str]:
        return sorted(e.id for e in events_of(records)
                if (e.type == "pn.budget.status" and e.data.year == YEAR)
                or (e.type.startswith("pn.alert.") and f"|{YEAR}|" in e.data.alert_id))

    before = ours(await read_all(broker_settings, [BUDGET_STATUS, ALERTS_BUDGET], idle_s=0.3))
    budgets, postings = jamtland_envelopes(YEAR)
    _, data = jamtland_2023(YEAR)
    await produce(broker_settings, FINANCE_BUDGETS, budgets)  # the same events again
    await produce(broker_settings, FINANCE_POSTINGS, postings + [env(p, "again") for p in data])  # same posting_ids
    # a barrier behind the duplicates on every cost centre's partition
    await produce(broker_settings, FINANCE_POSTINGS, [
        env(posting(f"barrier-{BARRIER_YEAR}-{cc}", f"{BARRIER_YEAR}-01", cc, "other", "-1")) for cc in ("6101", "6102", "6103")])
    await wait_for(broker_settings, [BUDGET_STATUS],
                   lambda rs: {"6101", "6102", "6103"} <= set(latest(events_of(rs), BARRIER_YEAR)), timeout=30)
    after = ours(await read_all(broker_settings, [BUDGET_STATUS, ALERTS_BUDGET], idle_s=0.3))
    assert after == before


async def test_fees_overrun_raises_forecast_deficit_in_april_and_a_budget_increase_resolves_it(stack, broker_settings):
    start, april, increase = fees_overrun(OVERRUN_YEAR)
    aid = f"budget.forecast_deficit|{OVERRUN_YEAR}|6103"
    await produce(broker_settings, FINANCE_BUDGETS, start[:1])
    await produce(broker_settings, FINANCE_POSTINGS, start[1:2])  # budgets and postings are two topics:
    await wait_for(broker_settings, [BUDGET_STATUS], lambda rs: latest(events_of(rs), OVERRUN_YEAR).get(  # in order
        "6103", {}).get("total", {}).get("annual_budget") == "-900000.00", timeout=30)
    await produce(broker_settings, FINANCE_POSTINGS, start[2:])
    await wait_for(broker_settings, [BUDGET_STATUS], lambda rs: latest(events_of(rs), OVERRUN_YEAR).get(
        "6103", {}).get("period") == f"{OVERRUN_YEAR}-03", timeout=30)
    await produce(broker_settings, FINANCE_POSTINGS, april)

    def alerts(records):
        return [e for e in events_of(records) if e.type.startswith("pn.alert.") and e.data.alert_id == aid]

    raised = alerts(await wait_for(broker_settings, [ALERTS_BUDGET], lambda rs: bool(alerts(rs)), timeout=30))
    assert [e.type for e in raised] == ["pn.alert.raised"]
    assert raised[0].data.facts["period"] == f"{OVERRUN_YEAR}-04"
    assert raised[0].data.facts["forecast_gap_ore"] == -37_500_000
    await produce(broker_settings, FINANCE_BUDGETS, [increase])
    final = alerts(await wait_for(broker_settings, [ALERTS_BUDGET], lambda rs: len(alerts(rs)) >= 2, timeout=30))
    assert [e.type for e in final] == ["pn.alert.raised", "pn.alert.resolved"]
    assert final[1].data.facts["forecast_gap_ore"] == 2_500_000
