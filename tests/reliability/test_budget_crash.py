"""kill -9 the budget monitor twice while it replays the Jämtland economy (year YEAR) and again during a
support-fee overrun (year OVERRUN), restart it each time: the final figures of every cost centre
and of the total, and the open alerts, are those of an uninterrupted in-process run of the same
events; no event id is published with two contents and no alert is raised or resolved twice in a row."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

from shared.apps.demo.seed_jamtland import jamtland_2023
from shared.contract.topics import ALERTS_BUDGET, BUDGET_STATUS, FINANCE_BUDGETS, FINANCE_POSTINGS
from shared.kafka.io import events_of, produce, read_all, wait_for
from shared.platform.supervisor import Stack
from shared.service.settings import PnSettings

from ..conftest import ROOT
from ..unit.budget.factories import env, fees_overrun
from ..unit.budget.harness import Budget

pytestmark = [pytest.mark.broker, pytest.mark.slow]

YEAR, OVERRUN = 2095, 2096


def latest(events, years) -> dict[tuple[int, str], dict]:
    out = {}
    for e in events:
        key = (e.data.year, e.data.cost_centre) if e.type == "pn.budget.status" else None
        if key and e.data.year in years and (key not in out or e.data.period >= out[key]["period"]):
            out[key] = e.data.model_dump(mode="json")  # keyed per cost centre and period: latest month
    return out


def _differences(got: dict, expected: dict) -> dict:
    """Per (year, cost centre): the figures that differ, as (got, expected), or what is missing."""
    out = {}
    for key in sorted(set(got) | set(expected)):
        g, e = got.get(key), expected.get(key)
        if g is None or e is None:
            out[key] = "missing" if g is None else "unexpected"
        elif g != e:
            out[key] = {f: (g.get(f), e.get(f)) for f in sorted(set(g) | set(e)) if g.get(f) != e.get(f)}
    return out


def open_alerts(events, years) -> tuple[set[str], dict[str, list[str]]]:
    history: dict[str, list[str]] = defaultdict(list)
    for e in {e.id: e for e in events if e.type.startswith("pn.alert.")}.values():
        parts = e.data.alert_id.split("|")  # other tests on the session broker raise alerts too
        if len(parts) > 1 and parts[1].isdigit() and int(parts[1]) in years:
            history[e.data.alert_id].append(e.type)
    return {a for a, h in history.items() if h[-1] == "pn.alert.raised"}, history


async def reference(budgets, months, overrun) -> Budget:
    b = Budget()
    await b.feed(*budgets)
    for chunk in months:
        await b.feed(*chunk)
    start, april, increase = overrun
    for step in (start, april, [increase]):
        await b.feed(*step)
    return b


async def test_kill9_and_restart_gives_the_figures_and_alerts_of_an_uninterrupted_run(broker, tmp_path):
    settings = PnSettings(kafka_bootstrap=broker.bootstrap)
    data_budgets, data_postings = jamtland_2023(YEAR)
    budgets = [env(b) for b in data_budgets]
    months = [[env(p) for p in data_postings if p.period == f"{YEAR}-{m:02d}"] for m in range(1, 13)]
    overrun = fees_overrun(OVERRUN)
    ref = await reference(budgets, months, overrun)
    years = {YEAR, OVERRUN}
    expected = latest(ref.statuses(), years)
    expected_open, _ = open_alerts(ref.alerts(), years)
    assert expected[(YEAR, "total")]["total"]["deviation"] == "335500.00"
    assert f"budget.revenue_shortfall|{YEAR}|6102/revenue" in expected_open

    stack = Stack(["budget"], work_dir=tmp_path, bootstrap=broker.bootstrap, env={"PN_RULES_DIR": str(ROOT / "rules"), "PN_SESSION_TIMEOUT_S": "3"})
    await asyncio.to_thread(stack.start, 90)  # Stack.start runs its own event loop
    try:
        await produce(settings, FINANCE_BUDGETS, budgets)
        await produce(settings, FINANCE_POSTINGS, months[0])
        annual = {cc: s["total"]["annual_budget"] for (y, cc), s in expected.items() if y == YEAR}
        await wait_for(settings, [BUDGET_STATUS], lambda rs: all(
            latest(events_of(rs), {YEAR}).get((YEAR, cc), {}).get("total", {}).get("annual_budget") == a
            for cc, a in annual.items()), timeout=30)
        for chunk in months[1:6]:
            await produce(settings, FINANCE_POSTINGS, chunk)
        await wait_for(settings, [BUDGET_STATUS], lambda rs: any(
            s["period"] >= f"{YEAR}-03" for s in latest(events_of(rs), {YEAR}).values()), timeout=30)
        stack.processes["budget"].kill9()  # mid-stream: months 3..6 partly processed
        for chunk in months[6:9]:
            await produce(settings, FINANCE_POSTINGS, chunk)
        await asyncio.to_thread(stack.restart, "budget")
        await wait_for(settings, [BUDGET_STATUS], lambda rs: any(
            s["period"] >= f"{YEAR}-08" for s in latest(events_of(rs), {YEAR}).values()), timeout=30)
        stack.processes["budget"].kill9()  # again mid-stream: months 8..9 partly processed
        for chunk in months[9:]:
            await produce(settings, FINANCE_POSTINGS, chunk)
        await asyncio.to_thread(stack.restart, "budget")

        start, april, increase = overrun
        await produce(settings, FINANCE_BUDGETS, start[:1])
        await produce(settings, FINANCE_POSTINGS, start[1:])
        await wait_for(settings, [BUDGET_STATUS], lambda rs: latest(events_of(rs), {OVERRUN}).get(
            (OVERRUN, "6103"), {}).get("period") == f"{OVERRUN}-03", timeout=30)
        await produce(settings, FINANCE_POSTINGS, april)
        aid = f"budget.forecast_deficit|{OVERRUN}|6103"
        await wait_for(settings, [ALERTS_BUDGET], lambda rs: aid in open_alerts(events_of(rs), {OVERRUN})[0], timeout=30)
        stack.processes["budget"].kill9()  # right after the raise: maybe before its state was committed
        await produce(settings, FINANCE_BUDGETS, [increase])
        await asyncio.to_thread(stack.restart, "budget")

        def done(records) -> bool:
            return latest(events_of(records), years) == expected

        try:  # a restart after kill -9 waits out the old member
            await wait_for(settings, [BUDGET_STATUS], done, timeout=120)
        except TimeoutError:
            got = latest(events_of(await read_all(settings, [BUDGET_STATUS], idle_s=1.0)), years)
            pytest.fail(f"final statuses differ from the uninterrupted run's: {_differences(got, expected)}")
        records = await read_all(settings, [BUDGET_STATUS, ALERTS_BUDGET], idle_s=1.0)
    finally:
        stack.stop()

    events = events_of(records)
    assert latest(events, years) == expected
    contents: dict[str, set[bytes]] = defaultdict(set)
    for r in records:
        e = events_of([r])
        if e and (e[0].type.startswith("pn.alert.") or e[0].data.year in years):
            contents[e[0].id].add(e[0].data.model_dump_json().encode())
    twice = {i: sorted(c) for i, c in contents.items() if len(c) > 1}
    assert not twice, f"event ids published with two contents: {twice}"
    open_, history = open_alerts(events, years)
    assert open_ == expected_open
    for alert, types in history.items():
        assert all(a != b for a, b in zip(types, types[1:], strict=False)), (alert, types)
        assert types[0] == "pn.alert.raised", (alert, types)
    assert history[f"budget.forecast_deficit|{OVERRUN}|6103"] == ["pn.alert.raised", "pn.alert.resolved"]
