"""`pn report`: the quarterly / annual report from the event log (see docs/report.md)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import click

from shared.cli.common import bootstrap_option
from shared.service.settings import PnSettings


@click.command("report")
@click.option("--period", required=True, help="a year (2023) or a quarter (2023-Q3), in Swedish time")
@click.option("--format", "fmt", type=click.Choice(["html", "pdf", "json", "csv", "excel", "png"]), default="html",
              show_default=True, help="excel: CSV for a Swedish Excel (semicolon, decimal comma, BOM); "
                                      "png: one page of the PDF (--page)")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="file to write (default: report-<period>.<ext>); '-' writes to stdout")
@click.option("--text", "text", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="the nämnd's own words: Markdown with the sections Väsentliga händelser, Mål, "
                   "Analys av teman och riskområden (docs/report.md)")
@click.option("--page", default=1, show_default=True, help="the page of the PDF --format png renders")
@bootstrap_option
def report(period: str, fmt: str, out: Path | None, text: Path | None, page: int, bootstrap: str | None) -> None:
    """Build the report for a period from the topics on PN_KAFKA_BOOTSTRAP."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from shared.apps.report.build import build_report, write_report
    from shared.apps.report.figures import NoDataError, parse_period
    from shared.apps.report.render import EXTENSIONS, render
    from shared.apps.report.texts import read_text
    from shared.cli.common import settings as _settings

    try:
        parse_period(period)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from None
    try:
        texts = read_text(text) if text is not None else None
    except ValueError as exc:
        raise click.BadParameter(f"{text}: {exc}", param_hint="--text") from None
    settings: PnSettings = _settings(bootstrap)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # the ClickException below says it once
    console = Console(stderr=True)
    try:
        with Progress(SpinnerColumn(), TextColumn("reading topics: {task.completed} records"), TimeElapsedColumn(),
                      console=console, transient=True) as progress:
            task = progress.add_task("read", total=None)
            result = asyncio.run(build_report(settings, period, texts=texts,
                                              progress=lambda n: progress.update(task, completed=n)))
    except NoDataError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # aiokafka's KafkaConnectionError and friends: say which broker
        if type(exc).__module__.startswith("aiokafka") or isinstance(exc, (OSError, asyncio.TimeoutError)):
            raise click.ClickException(
                f"cannot read the topics from the broker at {settings.kafka_bootstrap} (PN_KAFKA_BOOTSTRAP): "
                f"{type(exc).__name__}: {exc}") from None
        raise
    if out is not None and str(out) == "-":
        body = render(result, fmt, page=page)
        if isinstance(body, bytes):
            click.get_binary_stream("stdout").write(body)
        else:
            click.echo(body, nl=False)
        return
    try:
        path = write_report(result, fmt, out or Path(f"report-{result['period']}.{EXTENSIONS[fmt]}"), page=page)
    except ValueError as exc:  # a page the PDF does not have
        raise click.BadParameter(str(exc), param_hint="--page") from None
    click.echo(f"report {result['period']} ({fmt}) written to {path}")


COMMANDS = [report]
