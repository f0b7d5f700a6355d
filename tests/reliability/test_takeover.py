"""Two budget workers in one consumer group; kill -9 the one holding the busiest partition
mid-stream: the other takes its partitions over, and the final figures and open alerts are those
of an uninterrupted in-process run, no event id is published with two contents and no alert is
raised or resolved twice in a row (issue 27). Prints the time from the kill to the survivor
processing the dead worker's partition (docs/deploy.md, "Two workers of a service", has the
figures with PN_STANDBY_REPLICAS 0 and 1 from `python -m bench.takeover`)."""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request
from collections import defaultdict

import pytest
from aiokafka.partitioner import murmur2

from shared.apps.demo.seed_jamtland import jamtland_2023
from shared.contract.topics import ALERTS_BUDGET, BUDGET_STATUS, FINANCE_BUDGETS, FINANCE_POSTINGS
from shared.kafka.io import events_of, produce, read_all, wait_for
from shared.platform.supervisor import ServiceProcess, Stack
from shared.service.settings import PnSettings

from ..conftest import ROOT
from ..unit.budget.factories import env
from ..unit.budget.harness import Budget
from .test_budget_crash import _differences, latest, open_alerts

pytestmark = [pytest.mark.broker, pytest.mark.slow]

YEAR = 2097
BUSIEST = "6101"  # its postings' partition is killed mid-stream


def partition_of(key: str, partitions: int = FINANCE_POSTINGS.partitions) -> int:
    """The partition the Kafka client's default partitioner picks (our producers: aiokafka)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def processed_partitions(proc: ServiceProcess, topic: str) -> set[int]:
    """The partitions of `topic` this worker has processed a record of (its pn_consumer_offset)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{proc.web_port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return set()
    pattern = re.compile(r'^pn_consumer_offset\{[^}]*partition="(\d+)"[^}]*topic="' + re.escape(topic) + '"', re.M)
    found = {int(p) for p in pattern.findall(text)}
    pattern = re.compile(r'^pn_consumer_offset\{[^}]*topic="' + re.escape(topic) + r'"[^}]*partition="(\d+)"', re.M)
    return found | {int(p) for p in pattern.findall(text)}


async def until(predicate, timeout: float, what: str) -> float:
    """Poll `predicate` every 50 ms; the monotonic time it first held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(predicate):
            return time.monotonic()
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


async def test_the_survivor_takes_a_killed_workers_partitions_over_with_nothing_lost_or_doubled(broker, tmp_path):
    settings = PnSettings(kafka_bootstrap=broker.bootstrap)
    data_budgets, data_postings = jamtland_2023(YEAR)
    budgets = [env(b) for b in data_budgets]
    months = [[env(p) for p in data_postings if p.period == f"{YEAR}-{m:02d}"] for m in range(1, 13)]
    ref = Budget()
    await ref.feed(*budgets)
    for chunk in months:
        await ref.feed(*chunk)
    expected = latest(ref.statuses(), {YEAR})
    expected_open, _ = open_alerts(ref.alerts(), {YEAR})

    stack = Stack(["budget"], work_dir=tmp_path, bootstrap=broker.bootstrap, workers=2,
                  env={"PN_RULES_DIR": str(ROOT / "rules"), "PN_SESSION_TIMEOUT_S": "3"})
    await asyncio.to_thread(stack.start, 90)
    try:
        await produce(settings, FINANCE_BUDGETS, budgets)
        await produce(settings, FINANCE_POSTINGS, months[0])
        busiest = partition_of(BUSIEST)
        workers = stack.workers_of("budget")
        await until(lambda: any(busiest in processed_partitions(w, FINANCE_POSTINGS.name) for w in workers), 30,
                    f"partition {busiest} of {FINANCE_POSTINGS.name} processed")
        victim = next(w for w in workers if busiest in processed_partitions(w, FINANCE_POSTINGS.name))
        survivor = next(w for w in workers if w is not victim)
        assert busiest not in processed_partitions(survivor, FINANCE_POSTINGS.name)
        for chunk in months[1:6]:
            await produce(settings, FINANCE_POSTINGS, chunk)
        await wait_for(settings, [BUDGET_STATUS], lambda rs: any(
            s["period"] >= f"{YEAR}-03" for s in latest(events_of(rs), {YEAR}).values()), timeout=30)
        killed = time.monotonic()
        victim.kill9()  # mid-stream: months 3..6 partly processed
        for chunk in months[6:]:
            await produce(settings, FINANCE_POSTINGS, chunk)
        taken = await until(lambda: busiest in processed_partitions(survivor, FINANCE_POSTINGS.name), 60,
                            f"the survivor processing partition {busiest}")
        print(f"\ntakeover: kill -9 → survivor processing the dead worker's partition {taken - killed:.1f} s")

        try:
            await wait_for(settings, [BUDGET_STATUS], lambda rs: latest(events_of(rs), {YEAR}) == expected, timeout=60)
        except TimeoutError:
            got = latest(events_of(await read_all(settings, [BUDGET_STATUS], idle_s=1.0)), {YEAR})
            pytest.fail(f"final statuses differ from the uninterrupted run's: {_differences(got, expected)}")
        records = await read_all(settings, [BUDGET_STATUS, ALERTS_BUDGET], idle_s=1.0)
    finally:
        stack.stop()

    events = events_of(records)
    contents: dict[str, set[bytes]] = defaultdict(set)
    for e in events:
        if e.type.startswith("pn.alert.") or e.data.year == YEAR:
            contents[e.id].add(e.data.model_dump_json().encode())
    twice = {i: sorted(c) for i, c in contents.items() if len(c) > 1}
    assert not twice, f"event ids published with two contents: {twice}"
    open_, history = open_alerts(events, {YEAR})
    assert open_ == expected_open
    for alert, types in history.items():
        assert all(a != b for a, b in zip(types, types[1:], strict=False)), (alert, types)
