"""`pn archive`: the year's record as an archival package, and `pn archive verify` (docs/archive.md)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import click

from shared.cli.common import bootstrap_option
from shared.cli.common import settings as common_settings


@click.group("archive", invoke_without_command=True)
@click.option("--year", type=click.IntRange(1900, 2999), help="the calendar year (Swedish time) to archive")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), help="directory to write the package to")
@bootstrap_option
@click.pass_context
def archive(ctx: click.Context, year: int | None, out: Path | None, bootstrap: str | None) -> None:
    """Write YEAR's record from PN_KAFKA_BOOTSTRAP as an archival package: one JSON-lines file per
    record type, their JSON schemas and a manifest (counts, periods, sha256 of every file)."""
    if ctx.invoked_subcommand is not None:
        return
    if year is None or out is None:
        raise click.UsageError("pn archive --year YEAR --out DIR (or: pn archive verify DIR)")
    import json

    from shared.apps.archive import MANIFEST, TOPICS, ArchiveError, package, write
    from shared.kafka.io import read_all

    settings = common_settings(bootstrap)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # the ClickException below says it once
    try:
        records = asyncio.run(read_all(settings, TOPICS, idle_s=0.5, max_wait_s=600.0))
    except Exception as exc:  # aiokafka's connection errors: say which broker, no traceback
        if type(exc).__module__.startswith("aiokafka") or isinstance(exc, (OSError, asyncio.TimeoutError)):
            raise click.ClickException(f"cannot read the record from {settings.kafka_bootstrap}: "
                                       f"{type(exc).__name__}") from None
        raise
    try:
        files = package(records, year)
    except ArchiveError as exc:
        raise click.ClickException(str(exc)) from None
    if out.exists() and any(out.iterdir()):
        raise click.ClickException(f"{out} is not empty: an archival package goes into a new directory")
    write(files, out)
    manifest = json.loads(files[MANIFEST])
    for entry in manifest["files"]:
        click.echo(f"{entry['path']:<24} {entry['count']:>7}  {entry['first'] or '-'} .. {entry['last'] or '-'}")
    click.echo(f"archive {year}: {sum(e['count'] for e in manifest['files'])} records in {len(files)} files written to {out}")


@archive.command("verify")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def verify_cmd(directory: Path) -> None:
    """Re-check every count and sha256 of a package against its manifest; name the first file that differs."""
    from shared.apps.archive import ArchiveError, verify

    try:
        manifest = verify(directory)
    except ArchiveError as exc:
        raise click.ClickException(f"package {directory} does not verify: {exc}") from None
    files = len(manifest["files"]) + len(manifest["schemas"])
    click.echo(f"package {directory} verified: year {manifest['year']}, "
               f"{sum(e['count'] for e in manifest['files'])} records, {files} files, every count and sha256 as the manifest")


COMMANDS = [archive]
