"""`pn demo`: the whole system on the embedded broker with a year of demo data, then a summary.

Starts the broker and every implemented service as separate processes, publishes the scenario
(shared/apps/demo/scenario.py) step by step, waits for each service to catch up, closes the periods,
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

from shared.contract.events import encode
from shared.service.settings import PnSettings

DEMO_ENV = {
    "PN_LOG_LEVEL": "WARNING",
    "PN_FEES_HOLD_S": "5",             # visits waiting for their assignment: reject quickly in a demo
    "PN_FEES_TICK_S": "1",
    "PN_DIARY_BACKFILL": "true",       # a past year is replayed: register documents at their own dates
}


@click.command()
@click.option("--scenario-only", is_flag=True,
              help="print the scenario as JSON lines {topic, key, event} and exit (`pn publish TOPIC FILE` takes them)")
@click.option("--topic", "only_topic", default=None, help="with --scenario-only: only this topic's events, as bare CloudEvents")
@click.option("--year", default=2023, show_default=True)
@click.option("--scale", default=1.0, show_default=True, help="volume relative to the seeds' figures")
@click.option("--work-dir", default="var/demo", show_default=True, type=click.Path(path_type=Path))
@click.option("--keep-running", is_flag=True, help="leave the system running after the summary (Ctrl-C stops)")
@click.option("--report-text", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="the nämnd's own words for the year's report (Markdown, as `pn report --text`)")
@click.option("--report-pictures", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="also write pages of the year's report as PNG here (report-<year>.png: page 1, "
                   "report-<year>-ekonomi.png: the economy) — the README's pictures")
def demo(scenario_only: bool, only_topic: str | None, year: int, scale: float, work_dir: Path, keep_running: bool,
         report_text: Path | None, report_pictures: Path | None) -> None:
    """Run every service on the embedded broker with a year of demo data and print the summary."""
    from shared.apps.demo.scenario import Scenario
    from shared.contract.topics import BY_NAME

    if only_topic is not None and not scenario_only:
        raise click.UsageError("--topic goes with --scenario-only")
    if only_topic is not None and only_topic not in BY_NAME:
        raise click.ClickException(f"unknown topic {only_topic!r}; known: {', '.join(sorted(BY_NAME))}")
    scenario = Scenario(year=year, scale=scale)
    if scenario_only:
        _print_scenario(scenario, only_topic)
        return
    from rich.console import Console

    console = Console(highlight=False)
    texts = None
    if report_text is not None:
        from shared.apps.report.texts import read_text

        try:
            texts = read_text(report_text)
        except ValueError as exc:
            raise click.BadParameter(f"{report_text}: {exc}", param_hint="--report-text") from None
    asyncio.run(_run(scenario, work_dir, console, keep_running, texts=texts, pictures=report_pictures))


def _print_scenario(scenario: Any, only_topic: str | None = None) -> None:
    """JSON lines `{"topic": ..., "key": ..., "event": {...}}`, publishable per topic with `pn publish`
    (shared/apps/demo/lines.py); with `only_topic`, that topic's bare CloudEvents."""
    steps = list(scenario.steps())
    cases = [(f"PN-{scenario.year}-{i + 1:05d}", c.care_unit_hsa_id, at)
             for i, (at, c, _t) in enumerate(scenario.complaint_plan())]
    steps += [scenario.history(), scenario.letters_for(cases), scenario.closes(), scenario.advice()]
    from shared.apps.demo.runner import finance_step

    steps += [finance_step(scenario)]
    out = sys.stdout
    for step in steps:
        for topic, event in step.items:
            if isinstance(event, bytes):
                continue  # malformed test messages are for the live demo's dead-letter path only
            if only_topic is not None:
                if topic.name == only_topic:
                    out.write(encode(event).decode() + "\n")
                continue
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


async def _run(scenario: Any, work_dir: Path, console: Any, keep_running: bool, *,
               texts: dict[str, str] | None = None, pictures: Path | None = None) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from shared.apps.demo.runner import collect, run_scenario
    from shared.apps.demo.summary import render, summarise
    from shared.platform.registry import names as service_names
    from shared.platform.supervisor import Stack, StackError

    names = list(service_names())
    run_dir = work_dir / datetime.now().strftime("%Y%m%d-%H%M%S")
    console.print(f"[bold]pn demo[/] — {scenario.year}, scale {scenario.scale}; services: {', '.join(names) or 'none'}"
                  )
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
        await _write_report(settings, scenario.year, run_dir, console, texts=texts, pictures=pictures)
        console.print(f"\n[dim]{time.monotonic() - started:.0f} s; logs in {run_dir}/logs[/]")
        if keep_running:
            console.print(f"running on {stack.bootstrap}; Ctrl-C stops")
            while True:
                await asyncio.sleep(1)
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        stack.stop()


async def _write_report(settings: PnSettings, year: int, run_dir: Path, console: Any, *,
                        texts: dict[str, str] | None = None, pictures: Path | None = None) -> None:
    """The year's report as HTML and PDF in the run directory; with `pictures`, its first page and
    its economy page as PNG there (what `make report-pictures` puts in docs/)."""
    try:
        from shared.apps.report.build import build_report, write_report
    except ImportError:
        return
    report = await build_report(settings, str(year), texts=texts)
    path = write_report(report, "html", run_dir / f"report-{year}.html")
    console.print(f"\n[bold]Report[/] for {year}: {path}")
    try:
        from shared.apps.report.render import pdf_page_png, to_pdf

        pdf = to_pdf(report)
    except OSError as exc:  # WeasyPrint without Pango: `make install` provides it
        console.print(f"[yellow]no PDF[/]: {exc}")
        return
    (run_dir / f"report-{year}.pdf").write_bytes(pdf)
    console.print(f"[bold]Report[/] for {year}: {run_dir / f'report-{year}.pdf'}")
    if pictures is not None:
        pictures.mkdir(parents=True, exist_ok=True)
        for name, page in ((f"report-{year}.png", 1), (f"report-{year}-ekonomi.png", _page_with(pdf, "Ekonomisk analys"))):
            (pictures / name).write_bytes(pdf_page_png(pdf, page, scale=1.3))
            console.print(f"picture: {pictures / name} (page {page})")


def _page_with(pdf: bytes, words: str) -> int:
    """The first page (1-based) whose text has `words`; 1 when none has."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        for i in range(len(doc)):
            if words in doc[i].get_textpage().get_text_range():
                return i + 1
        return 1
    finally:
        doc.close()


COMMANDS = [demo]
