"""`pn demo`: the whole system on the embedded broker with a year of demo data, then a summary.

Starts the broker and every implemented service as separate processes, publishes the scenario
(shared/demo/scenario.py) step by step, waits for each service to catch up, closes the periods,
lets the finance system book the rest of the seeded outcome, prints the summary, writes the
year's report when the report module exists, and stops every process it started.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import defaultdict
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from .events import Envelope, encode
from .settings import SERVICES, PnSettings

DEMO_ENV = {
    "PN_LOG_LEVEL": "WARNING",
    "PN_FEES_HOLD_SECONDS": "5",       # visits waiting for their assignment: reject quickly in a demo
}


@click.command()
@click.option("--scenario-only", is_flag=True, help="print the scenario as JSON lines (topic + event) and exit")
@click.option("--year", default=2023, show_default=True)
@click.option("--scale", default=1.0, show_default=True, help="volume relative to the seeds' figures")
@click.option("--work-dir", default="var/demo", show_default=True, type=click.Path(path_type=Path))
@click.option("--keep-running", is_flag=True, help="leave the system running after the summary (Ctrl-C stops)")
def demo(scenario_only: bool, year: int, scale: float, work_dir: Path, keep_running: bool) -> None:
    """Run every service on the embedded broker with a year of demo data and print the summary."""
    from .demo.scenario import Scenario

    scenario = Scenario(year=year, scale=scale)
    if scenario_only:
        _print_scenario(scenario)
        return
    from rich.console import Console

    console = Console(highlight=False)
    asyncio.run(_run(scenario, work_dir, console, keep_running))


def _print_scenario(scenario: Any) -> None:
    """JSON lines `{"topic": ..., "key": ..., "event": {...}}`, publishable per topic with `pn publish`."""
    steps = list(scenario.steps())
    cases = [(f"PN-{scenario.year}-{i + 1:05d}", c.care_unit_hsa_id, at)
             for i, (at, c, _t) in enumerate(scenario.complaint_plan())]
    steps += [scenario.letters_for(cases), scenario.closes()]
    steps += [_finance_step(scenario, {})]
    out = sys.stdout
    for step in steps:
        for topic, event in step.items:
            if isinstance(event, bytes):
                continue  # malformed test messages are for the live demo's dead-letter path only
            out.write(json.dumps({"topic": topic.name, "key": topic.key_for(event),
                                  "event": json.loads(encode(event))}, ensure_ascii=False) + "\n")


async def _run(scenario: Any, work_dir: Path, console: Any, keep_running: bool) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from .kafka_io import produce
    from .services import available
    from .supervisor import Stack, StackError

    names = [n for n, ok in available().items() if ok]
    missing = [n for n in SERVICES if n not in names]
    run_dir = work_dir / datetime.now().strftime("%Y%m%d-%H%M%S")
    console.print(f"[bold]pn demo[/] — {scenario.year}, scale {scenario.scale}; services: {', '.join(names) or 'none'}"
                  + (f" (not implemented yet: {', '.join(missing)})" if missing else ""))
    stack = Stack(names, work_dir=run_dir, env=DEMO_ENV, on_progress=lambda m: console.print(f"  {m}"))
    started = time.monotonic()
    try:
        await asyncio.to_thread(stack.start, 120)
        settings = PnSettings(kafka_bootstrap=stack.bootstrap, log_level="WARNING")
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn(), console=console) as progress:

            async def publish(step: Any) -> None:
                task = progress.add_task(f"publish {step.name}", total=len(step.items))
                by_topic: dict[Any, list[Any]] = defaultdict(list)
                for topic, event in step.items:
                    by_topic[topic].append(event)
                for topic, events in by_topic.items():
                    for i in range(0, len(events), 2000):
                        chunk = events[i:i + 2000]
                        keys = [None if isinstance(e, bytes) else topic.key_for(e).encode() for e in chunk]
                        await produce(settings, topic, chunk, keys=keys)
                        progress.advance(task, len(chunk))

            async def settle(label: str, groups: list[str], topics: list[Any]) -> None:
                task = progress.add_task(f"wait: {label}", total=None)
                await _wait_consumed(settings, groups, topics)
                progress.update(task, total=1, completed=1)

            steps = list(scenario.steps())
            reference, complaints, support, care = steps
            await publish(reference)
            await settle("directory loaded", _groups(names, "intake", "diary"), [reference.items[0][0]])
            await publish(complaints)
            await settle("cases opened", _groups(names, "intake"), [complaints.items[0][0]])
            cases = await _opened_cases(settings, scenario.year)
            await publish(scenario.letters_for(cases))
            await publish(support)
            await publish(care)
            await settle("letters, visits and care days processed", _groups(names, "diary", "fees", "billing"),
                         ["pn.cases.opened", "pn.letters.outgoing", "pn.letters.incoming", "pn.support.visits", "pn.care.days"])
            await asyncio.sleep(6)  # held visits expire (PN_FEES_HOLD_SECONDS) before the months close
            await publish(scenario.closes())
            await settle("periods closed", _groups(names, "fees", "billing"), ["pn.commands"])
            fix, january = scenario.cancellations(care)
            await publish(fix)
            await settle("cancellations", _groups(names, "billing"), ["pn.care.days"])
            await publish(january)
            await settle("January close", _groups(names, "billing"), ["pn.commands"])
            platform = await _platform_postings(settings, scenario.year)
            await publish(_finance_step(scenario, platform))
            await settle("budget monitor", _groups(names, "budget"), ["pn.finance.budgets", "pn.finance.postings"])
            await settle("status notifications", _groups(names, "intake", "diary"), ["pn.diary.entries"])
        summary = await _summary(settings, scenario.year)
        from .demo.summary import render

        console.rule(f"Patientnämnden {scenario.year} — demo summary")
        render(summary, console)
        await _write_report(settings, scenario.year, run_dir, console)
        console.print(f"\n[dim]{time.monotonic() - started:.0f} s; logs in {run_dir}/logs[/]")
        if keep_running:
            console.print(f"running on {stack.bootstrap}; Ctrl-C stops")
            while True:
                await asyncio.sleep(1)
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        stack.stop()


def _groups(running: list[str], *names: str) -> list[str]:
    return [f"pn-{n}" for n in names if n in running]


async def _wait_consumed(settings: PnSettings, groups: list[str], topics: list[Any], timeout: float = 240.0) -> None:
    """Until every group has committed all records of the topics it reads (and 1 s more)."""
    from .kafka_io import group_lag

    deadline = time.monotonic() + timeout
    for group in groups:
        while time.monotonic() < deadline:
            try:
                lag = await group_lag(settings, group, topics)
            except Exception:
                lag = 1
            if lag == 0:
                break
            await asyncio.sleep(0.5)
    await asyncio.sleep(1.5)


async def _opened_cases(settings: PnSettings, year: int) -> list[tuple[str, str | None, datetime]]:
    from .kafka_io import events_of, read_all

    events = events_of(await read_all(settings, ["pn.cases.opened"]))
    return [(e.data.case_id, e.data.care_unit_hsa_id if e.data.care_unit_status == "resolved" else None, e.data.opened_at)
            for e in events]


async def _platform_postings(settings: PnSettings, year: int) -> dict[tuple[str, str, str], Decimal]:
    from .kafka_io import events_of, read_all

    booked: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for e in events_of(await read_all(settings, ["pn.finance.postings"])):
        if e.source.startswith("/pn/") and e.data.period.startswith(str(year)):
            booked[(e.data.period, e.data.cost_centre, e.data.account_group)] += e.data.amount
    return booked


def _finance_step(scenario: Any, platform: dict[tuple[str, str, str], Decimal]) -> Any:
    """Budgets and the finance system's postings: the seeded outcome less what the platform booked."""
    from .demo.scenario import Step
    from .events import LedgerPosted, derive_id, make_event
    from .topics import FINANCE_BUDGETS, FINANCE_POSTINGS

    step = Step("budgets and ledger postings")
    try:
        from services.budget.seed_jamtland import jamtland_2023
    except ImportError:
        return step
    budgets, postings = jamtland_2023(scenario.year)
    for ev in budgets:
        step.add(FINANCE_BUDGETS, ev if isinstance(ev, Envelope) else _wrap(ev, scenario))
    for ev in postings:
        data = ev.data if isinstance(ev, Envelope) else ev
        booked = platform.pop((data.period, data.cost_centre, data.account_group), Decimal(0))
        rest = data.amount - booked
        fixed = LedgerPosted(posting_id=f"{data.posting_id}-ek", period=data.period, cost_centre=data.cost_centre,
                             account_group=data.account_group, amount=rest, text=data.text)
        step.add(FINANCE_POSTINGS, make_event(fixed, source="/ekonomi/huvudbok", time=datetime.now(timezone.utc),
                                              id=derive_id("demo", "posting", fixed.posting_id)))
    for (period, cc, group), amount in platform.items():  # platform bookings outside the seeded split
        fixed = LedgerPosted(posting_id=f"demo-{period}-{cc}-{group}-correction", period=period, cost_centre=cc,
                             account_group=group, amount=-amount, text="omföring")
        step.add(FINANCE_POSTINGS, make_event(fixed, source="/ekonomi/huvudbok", time=datetime.now(timezone.utc),
                                              id=derive_id("demo", "posting", fixed.posting_id)))
    return step


def _wrap(data: Any, scenario: Any) -> Envelope:
    from .events import derive_id, make_event

    return make_event(data, source="/ekonomi/budget", time=datetime.now(timezone.utc),
                      id=derive_id("demo", data.event_type, data.model_dump_json()))


async def _summary(settings: PnSettings, year: int) -> dict[str, Any]:
    from .demo.summary import summarise
    from .kafka_io import events_of, read_all

    names = ["pn.cases.opened", "pn.complaints.rejected", "pn.notifications", "pn.diary.entries",
             "pn.letters.dispatched", "pn.fees.calculated", "pn.fees.rejected", "pn.fees.payouts",
             "pn.billing.invoices", "pn.budget.status", "pn.alerts.ops", "pn.alerts.budget", "pn.deadletter"]
    events = {}
    for name in names:
        events[name] = events_of(await read_all(settings, [name], idle_s=0.3))
    return summarise(events, year)


async def _write_report(settings: PnSettings, year: int, run_dir: Path, console: Any) -> None:
    try:
        from .report.build import build_report, write_report
    except ImportError:
        return
    report = await build_report(settings, str(year))
    path = write_report(report, "html", run_dir / f"report-{year}.html")
    console.print(f"\n[bold]Report[/] for {year}: {path}")


COMMANDS = [demo]
