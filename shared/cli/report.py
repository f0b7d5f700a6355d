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
@click.option("--format", "fmt", type=click.Choice(["html", "json", "csv"]), default="html", show_default=True)
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="file to write (default: report-<period>.<format>); '-' writes to stdout")
@bootstrap_option
def report(period: str, fmt: str, out: Path | None, bootstrap: str | None) -> None:
    """Build the report for a period from the public topics on PN_KAFKA_BOOTSTRAP."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from shared.apps.report.build import build_report, write_report
    from shared.apps.report.figures import NoDataError, parse_period
    from shared.apps.report.render import render
    from shared.cli.common import settings as _settings

    try:
        parse_period(period)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from None
    settings: PnSettings = _settings(bootstrap)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # the ClickException below says it once
    console = Console(stderr=True)
    try:
        with Progress(SpinnerColumn(), TextColumn("reading topics: {task.completed} records"), TimeElapsedColumn(),
                      console=console, transient=True) as progress:
            task = progress.add_task("read", total=None)
            result = asyncio.run(build_report(settings, period, progress=lambda n: progress.update(task, completed=n)))
    except NoDataError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # aiokafka's KafkaConnectionError and friends: say which broker
        if type(exc).__module__.startswith("aiokafka") or isinstance(exc, (OSError, asyncio.TimeoutError)):
            raise click.ClickException(
                f"cannot read the topics from the broker at {settings.kafka_bootstrap} (PN_KAFKA_BOOTSTRAP): "
                f"{type(exc).__name__}: {exc}") from None
        raise
    if out is not None and str(out) == "-":
        click.echo(render(result, fmt), nl=False)
        return
    path = write_report(result, fmt, out or Path(f"report-{result['period']}.{fmt}"))
    click.echo(f"report {result['period']} ({fmt}) written to {path}")


COMMANDS = [report]
