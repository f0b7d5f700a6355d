"""kill -9 the budget monitor twice while it replays the Jämtland economy (year YEAR) and again during a
support-fee overrun (year OVERRUN), restart it each time: the final figures of every cost centre
and of the total, and the open alerts, are those of an uninterrupted in-process run of the same
events; no event id is published with two contents and no alert is raised or resolved twice in a row."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import zlib
from collections import defaultdict

import pytest

from shared.apps.demo.seed_jamtland import jamtland_2023
from shared.contract.topics import (
    ALERTS_BUDGET,
    BUDGET_CENTRES,
    BUDGET_STATUS,
    FINANCE_BUDGETS,
    FINANCE_POSTINGS,
)
from shared.kafka.io import events_of, produce, read_all, wait_for
from shared.platform.supervisor import Stack
from shared.service.settings import PnSettings
from shared.web.auth import new_token

from ..conftest import ROOT
from ..unit.budget.factories import env, fees_overrun
from ..unit.budget.harness import Budget, budget, posting
from .workers import processed

pytestmark = [pytest.mark.broker, pytest.mark.slow]

YEAR, OVERRUN = 2095, 2096
TOKEN, ENTRY = new_token("officer-test", "officer")


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


# -- two workers in one consumer group ------------------------------------------------------------
TWO_YEAR = 2098
OWN = ("6101", "6102", "6103", "6113", "6114")
"""The seed's cost centres (partitions 3, 3, 2 of the finance topics) and two more on partitions 0
and 1, so each of two workers has cost centres of its own."""


def two_worker_months(year: int) -> tuple[list, list[list]]:
    """The Jämtland year, plus 6113 and 6114 (budget −120,000 "other" each) with 20 postings a month;
    6114 overspends from July (a ytd deficit raised mid-year). Each month's postings once more under
    new event ids (the same posting_id: counted once)."""
    data_budgets, data_postings = jamtland_2023(year)
    budgets = [env(b) for b in data_budgets] + [env(budget(year, cc, "other", "-120000")) for cc in OWN[3:]]
    months = []
    for m in range(1, 13):
        chunk = [env(p) for p in data_postings if p.period == f"{year}-{m:02d}"]
        for cc in OWN[3:]:
            amount = "-1500" if cc == "6114" and m >= 7 else "-500"
            chunk += [env(posting(f"{cc}-{m}-{i}", f"{year}-{m:02d}", cc, "other", amount)) for i in range(20)]
        months.append(chunk + [env(e.data, "again") for e in chunk[::7]])
    return budgets, months


async def test_two_workers_give_the_figures_and_alerts_of_one_and_the_survivor_of_a_kill_9_takes_over(
        broker, tmp_path, monkeypatch):
    """Two budget workers in one group, each with cost centres of its own: the figures, the total
    and the open alerts are those of one in-process run of the same events; both workers' views
    answer the same; the worker holding the one-partition total is killed -9 mid-year and the other
    takes its partitions over with nothing lost and nothing counted twice. The budgets come
    partitioned as librdkafka's default would (crc32, not murmur2): 6102's, 6103's and 6113's land
    on other partitions than their postings."""
    monkeypatch.setenv("PN_BUDGET_COST_CENTRES", json.dumps(OWN))  # the reference run's settings too
    settings = PnSettings(kafka_bootstrap=broker.bootstrap)
    budgets, months = two_worker_months(TWO_YEAR)
    ref = Budget()
    await ref.feed(*budgets)
    years = {TWO_YEAR}
    for m, chunk in enumerate(months, 1):
        await ref.feed(*chunk)
        if m == 6:
            june = latest(ref.statuses(), years)
    expected = latest(ref.statuses(), years)
    expected_open, _ = open_alerts(ref.alerts(), years)
    assert f"budget.ytd_deficit|{TWO_YEAR}|6114" in expected_open and len(expected) == len(OWN) + 1

    env_ = {"PN_RULES_DIR": str(ROOT / "rules"), "PN_SESSION_TIMEOUT_S": "3", "PN_TOKENS": ENTRY.line()}
    stack = Stack(["budget"], work_dir=tmp_path, bootstrap=broker.bootstrap, env=env_, workers=2)
    await asyncio.to_thread(stack.start, 90)  # one group; each worker its own data dir and port
    workers = stack.workers_of("budget")

    try:
        await produce_crc32(settings, FINANCE_BUDGETS, budgets)  # upstream's partitioner, not ours
        for chunk in months[:6]:
            await produce(settings, FINANCE_POSTINGS, chunk)
        try:  # with both workers running: every cost centre's figures meet its budget
            records = await wait_for(settings, [BUDGET_STATUS], lambda rs: latest(events_of(rs), years) == june,
                                     timeout=30)
        except TimeoutError:
            got = latest(events_of(await read_all(settings, [BUDGET_STATUS], idle_s=1.0)), years)
            pytest.fail(f"June's statuses differ from one in-process run's: {_differences(got, june)}")
        held = [processed(w) for w in workers]
        assert all(any(t == FINANCE_POSTINGS.name for t, _ in h) for h in held), f"a worker without postings: {held}"
        owner = next((i for i, h in enumerate(held) if (BUDGET_CENTRES.name, 0) in h), 0)
        on_topic = latest(events_of(records), years)
        views = await asyncio.to_thread(_views_agree, workers, on_topic)
        for chunk in months[6:9]:
            await produce(settings, FINANCE_POSTINGS, chunk)
        workers[owner].kill9()  # mid-year: months 7..9 partly processed, the total's partition with it
        survivor = workers[1 - owner]
        for chunk in months[9:]:
            await produce(settings, FINANCE_POSTINGS, chunk)
        try:
            await wait_for(settings, [BUDGET_STATUS], lambda rs: latest(events_of(rs), years) == expected, timeout=45)
        except TimeoutError:
            got = latest(events_of(await read_all(settings, [BUDGET_STATUS], idle_s=1.0)), years)
            pytest.fail(f"final statuses differ from one in-process run's: {_differences(got, expected)}")
        records = await read_all(settings, [BUDGET_STATUS, ALERTS_BUDGET], idle_s=1.0)
        await asyncio.to_thread(_views_agree, [survivor], expected)
    finally:
        stack.stop()

    assert views >= 2
    events = events_of(records)
    contents: dict[str, set[bytes]] = defaultdict(set)
    for e in events:
        if e.type.startswith("pn.alert.") or e.data.year in years:
            contents[e.id].add(e.data.model_dump_json().encode())
    assert not {i: c for i, c in contents.items() if len(c) > 1}, "event ids published with two contents"
    open_, history = open_alerts(events, years)
    assert open_ == expected_open
    for alert, types in history.items():
        assert all(a != b for a, b in zip(types, types[1:], strict=False)), (alert, types)



async def produce_crc32(settings: PnSettings, topic, events) -> None:
    """As a librdkafka producer with its default partitioner would: crc32 of the key, not murmur2."""
    from aiokafka import AIOKafkaProducer

    from shared.contract.events import encode
    from shared.contract.events.envelope import CONTENT_TYPE_HEADER
    from shared.kafka.client import producer_kwargs

    producer = AIOKafkaProducer(**producer_kwargs(settings))
    await producer.start()
    try:
        for e in events:
            key = topic.key_for(e).encode()
            await producer.send_and_wait(topic.name, encode(e), key=key, partition=zlib.crc32(key) % topic.partitions,
                                         headers=[CONTENT_TYPE_HEADER])
    finally:
        await producer.stop()


def _views_agree(workers, statuses: dict, timeout: float = 15) -> int:
    """Poll each worker's GET /budget/{year} until it shows `statuses` (a global store reaches a
    worker one fetch after its write); returns how many agreed."""
    want = {cc: s for (_, cc), s in statuses.items()}
    deadline = time.monotonic() + timeout
    agreed = 0
    for worker in workers:
        while True:
            request = urllib.request.Request(f"http://127.0.0.1:{worker.web_port}/budget/{TWO_YEAR}",
                                             headers={"Authorization": f"Bearer {TOKEN}"})
            with urllib.request.urlopen(request, timeout=10) as r:
                body = json.loads(r.read())
            got = {c["cost_centre"]: c for c in body["cost_centres"]} | {"total": body["total"]}
            if got == want:
                agreed += 1
                break
            assert time.monotonic() < deadline, f"the view of worker {worker.web_port} differs: {_differences(got, want)}"
            time.sleep(0.3)
    return agreed
