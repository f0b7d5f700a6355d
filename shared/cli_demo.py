"""`pn demo`: the whole system on the embedded broker with a year of demo data, then a summary.

Starts the broker and every implemented service as separate processes, publishes the scenario
(shared/demo/scenario.py) step by step, waits for each service to catch up, closes the periods,
lets the finance system book its fixed postings from the seed, prints the summary, writes the
year's report when the report module exists, and stops every process it started.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from .events import encode
from .settings import SERVICES, PnSettings

DEMO_ENV = {
    "PN_LOG_LEVEL": "WARNING",
    "PN_FEES_HOLD_S": "5",             # visits waiting for their assignment: reject quickly in a demo
    "PN_FEES_TICK_S": "1",
    "PN_DIARY_BACKFILL": "true",       # a past year is replayed: register documents at their own dates
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
    steps += [scenario.history(), scenario.letters_for(cases), scenario.closes()]
    from .demo.runner import finance_step

    steps += [finance_step(scenario)]
    out = sys.stdout
    for step in steps:
        for topic, event in step.items:
            if isinstance(event, bytes):
                continue  # malformed test messages are for the live demo's dead-letter path only
            out.write(json.dumps({"topic": topic.name, "key": topic.key_for(event),
                                  "event": json.loads(encode(event))}, ensure_ascii=False) + "\n")


class _RichProgress:
    def __init__(self, progress: Any) -> None:
        self.progress = progress

    def step(self, label: str, total: int | None) -> Any:
        task = self.progress.add_task(label, total=total)

        def advance(n: int) -> None:
            if total is None:
                self.progress.update(task, total=1, completed=1)
            else:
                self.progress.advance(task, n)

        return advance


async def _run(scenario: Any, work_dir: Path, console: Any, keep_running: bool) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from .demo.runner import collect, run_scenario
    from .demo.summary import render, summarise
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
                      TimeElapsedColumn(), console=console, transient=False) as progress:
            await run_scenario(settings, scenario, names, _RichProgress(progress))
        summary = summarise(await collect(settings), scenario.year)
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


async def _write_report(settings: PnSettings, year: int, run_dir: Path, console: Any) -> None:
    try:
        from .report.build import build_report, write_report
    except ImportError:
        return
    report = await build_report(settings, str(year))
    path = write_report(report, "html", run_dir / f"report-{year}.html")
    console.print(f"\n[bold]Report[/] for {year}: {path}")


COMMANDS = [demo]
