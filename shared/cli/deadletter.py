"""`pn deadletter list|replay`: the operator's view of what the services could not process.

Replay re-publishes a dead letter's original bytes (or a corrected file) to its source topic after
validating it against that topic's event types, with a `pn-replay-of` header naming the dead
letter, so the trail is kept: if the replayed message fails again, its new dead letter says
which one it replays.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from shared.cli.common import bootstrap_option, json_option, settings
from shared.service.settings import PnSettings

REPLAY_HEADER = "pn-replay-of"


@click.group()
def deadletter() -> None:
    """Inspect and replay messages on pn.deadletter."""


async def _dead_letters(settings: PnSettings) -> list[Any]:
    from shared.contract.topics import DEADLETTER
    from shared.kafka.client import KafkaConfigError
    from shared.kafka.io import events_of, read_all

    try:
        records = await read_all(settings, [DEADLETTER], idle_s=0.5)
    except KafkaConfigError:
        raise  # a bad setting, said by PnGroup in its own words
    except Exception as exc:
        raise click.ClickException(f"cannot reach Kafka at {settings.kafka_bootstrap} ({type(exc).__name__})") from None
    return events_of(records)


@deadletter.command("list")
@click.option("--topic", default=None, help="only dead letters from this source topic")
@json_option
@bootstrap_option
def list_cmd(topic: str | None, as_json: bool, bootstrap: str | None) -> None:
    """List dead letters: id, when, source topic/partition/offset, service, first error."""
    from rich.console import Console
    from rich.table import Table

    from shared.contract.topics import BY_NAME

    if topic is not None and topic not in BY_NAME:
        raise click.ClickException(f"unknown topic {topic!r}: no service reads it, so it has no dead "
                                   f"letters (known: {', '.join(sorted(BY_NAME))})")
    letters = [e for e in asyncio.run(_dead_letters(settings(bootstrap)))
               if topic is None or e.data.source_topic == topic]
    if as_json:
        for e in letters:
            click.echo(json.dumps({"id": e.id, "received_at": e.data.received_at.isoformat(),
                                   "source_topic": e.data.source_topic, "partition": e.data.partition,
                                   "offset": e.data.offset, "service": e.data.service,
                                   "errors": [err.model_dump() for err in e.data.errors],
                                   "replay_of": e.data.replay_of}))
        return
    table = Table(title=f"{len(letters)} dead letters", title_justify="left")
    for column in ("id", "received", "source", "service", "error"):
        table.add_column(column)
    for e in letters:
        err = e.data.errors[0] if e.data.errors else None
        where = ".".join(map(str, err.loc)) if err and err.loc else ""
        table.add_row(e.id, e.data.received_at.strftime("%Y-%m-%d %H:%M:%S"),
                      f"{e.data.source_topic}[{e.data.partition}]@{e.data.offset}", e.data.service,
                      f"{where}: {err.msg}"[:80] if err else "")
    Console(highlight=False).print(table)


@deadletter.command()
@click.option("--id", "letter_id", required=True, help="the dead letter's event id (see `pn deadletter list`)")
@click.option("--file", "corrected", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="a corrected message to send instead of the original bytes")
@bootstrap_option
def replay(letter_id: str, corrected: Path | None, bootstrap: str | None) -> None:
    """Re-publish a dead letter (re-validated, or corrected) to its source topic."""
    from shared.contract.events import decoder_for
    from shared.contract.topics import topic

    pn_settings = settings(bootstrap)
    found = [e for e in asyncio.run(_dead_letters(pn_settings)) if e.id == letter_id]
    if not found:
        raise click.ClickException(f"no dead letter with id {letter_id}")
    letter = found[0].data
    if letter.raw_truncated and not corrected:
        raise click.ClickException(f"dead letter {letter_id} holds only the first part of a {letter.raw_size}-byte "
                                   f"record (sha256 {letter.raw_sha256}); nothing sent: pass --file with the "
                                   "corrected event")
    # a file saved by an editor that writes a UTF-8 byte order mark (Notepad) is still JSON to us
    raw = corrected.read_bytes().removeprefix(b"\xef\xbb\xbf").strip() if corrected else (
        base64.b64decode(letter.raw) if letter.raw_encoding == "base64" else letter.raw.encode())
    if letter.raw_headers and not corrected:  # a binary-mode record: sent again structured
        from shared.contract.events.binary_mode import NotCloudEvent, to_structured

        try:
            raw = to_structured([(k, v.encode()) for k, v in letter.raw_headers.items()], raw)
        except NotCloudEvent as exc:
            raise click.ClickException(f"still not a valid event for {letter.source_topic}: {exc} "
                                       "(nothing sent; correct it and pass --file)") from None
    target = topic(letter.source_topic)
    try:
        event = decoder_for(target.event_types).validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False)[:5])
        raise click.ClickException(f"still not a valid event for {target.name}: {problems} (nothing sent; "
                                   "correct it and pass --file)") from None
    asyncio.run(_send(pn_settings, target, raw, target.key_for(event).encode(), letter_id))
    click.echo(f"replayed {letter_id} to {target.name} (event {event.id}); header {REPLAY_HEADER}={letter_id}")


async def _send(settings: PnSettings, target: Any, raw: bytes, key: bytes, letter_id: str) -> None:
    from shared.cli.common import stop_quietly
    from shared.contract.events.envelope import CONTENT_TYPE_HEADER
    from shared.kafka.io import new_producer

    producer = new_producer(settings)
    try:
        await producer.start()
    except Exception:
        await stop_quietly(producer)
        raise
    try:
        await producer.send_and_wait(target.name, raw, key=key,
                                     headers=[CONTENT_TYPE_HEADER, (REPLAY_HEADER, letter_id.encode())])
    finally:
        await producer.stop()


COMMANDS = [deadletter]
