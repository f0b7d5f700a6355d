"""`pn`: the one command line for running, feeding and watching the platform.

Core commands live here; larger areas (demo, dead letters, tokens, reports) register their own
click commands from modules listed in `EXTRA_COMMANDS`, so the CLI grows without one huge file.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from .settings import SERVICES, PnSettings

EXTRA_COMMANDS = ("shared.cli_ops", "shared.cli_demo", "shared.cli_security", "shared.cli_report")
SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """patientnamnd: the event platform of a Swedish patientnämnd."""


def _settings(**overrides: Any) -> PnSettings:
    try:
        base = PnSettings()
    except ValidationError as exc:
        raise click.ClickException(f"invalid PN_ setting: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None
    return base.model_copy(update={k: v for k, v in overrides.items() if v is not None})


_stop = {"now": False}


def _catch_signals() -> None:
    """Install Ctrl-C/SIGTERM handlers before anything says `ready`, so no signal is missed."""

    def handler(*_: Any) -> None:
        _stop["now"] = True

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def _wait_for_signal() -> None:
    _catch_signals()
    while not _stop["now"]:
        time.sleep(0.2)


# -- broker ----------------------------------------------------------------------------------------
@main.command()
@click.option("--port", default=9092, show_default=True, help="TCP port to listen on")
@click.option("--host", default="127.0.0.1", show_default=True)
def broker(port: int, host: str) -> None:
    """Run the embedded Kafka-compatible broker (Tansu, memory storage) with every topic created."""
    from .broker import BrokerError, EmbeddedBroker, ensure_topics

    _catch_signals()
    try:
        b = EmbeddedBroker(port, host).start()
    except BrokerError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        created = asyncio.run(ensure_topics(_settings(kafka_bootstrap=b.bootstrap)))
        click.echo(f"ready {b.bootstrap} ({len(created)} topics created; memory storage: a restart loses them)")
        sys.stdout.flush()
        _wait_for_signal()
    finally:
        b.stop()
        click.echo("broker stopped")


@main.command("topics")
def topics_cmd() -> None:
    """Create the catalog's topics on PN_KAFKA_BOOTSTRAP (the compose topic-init job runs this)."""
    from .broker import BrokerError, ensure_topics

    settings = _settings()
    try:
        created = asyncio.run(ensure_topics(settings, timeout=120))
    except BrokerError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"topics ready on {settings.kafka_bootstrap}: {len(created)} created")


# -- services ---------------------------------------------------------------------------------------
@main.command()
@click.argument("service", type=click.Choice(SERVICES))
def run(service: str) -> None:
    """Run one service worker in the foreground (settings from PN_* environment variables)."""
    from .heap import limit_arenas, start_trimming
    from .kafka_client import KafkaConfigError
    from .logging import configure, get_logger
    from .rules import RulesFileError
    from .services import ServiceNotAvailable, create_app, settings_for
    from .settings import retired_in
    from .streaming import run_worker

    try:
        settings = settings_for(service)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise click.ClickException(f"invalid setting PN_{'_'.join(map(str, err['loc'])).upper()}: {err['msg']}") from None
    limit_arenas(settings.malloc_arenas)  # before any thread of the worker allocates
    configure(service=service, level=settings.log_level, fmt=settings.log_format or "console")
    for warning in retired_in(os.environ):
        get_logger(service=service).warning("retired_setting", detail=warning)
    try:
        app = create_app(service, settings)
    except (ServiceNotAvailable, RulesFileError, KafkaConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    start_trimming(settings.malloc_trim_s)
    run_worker(app, log_level=settings.log_level)


@main.command()
@click.option("--port", default=9092, show_default=True, help="embedded broker port")
@click.option("--bootstrap", default=None, help="use this Kafka instead of starting the embedded broker")
@click.option("--services", "names", default=",".join(SERVICES), show_default=True)
@click.option("--work-dir", default="var/up", show_default=True, type=click.Path(path_type=Path))
def up(port: int, bootstrap: str | None, names: str, work_dir: Path) -> None:
    """Run the broker and every service as child processes until Ctrl-C."""
    from .services import available
    from .supervisor import Stack, StackError

    wanted = [n.strip() for n in names.split(",") if n.strip()]
    have = available()
    missing = [n for n in wanted if not have.get(n)]
    for name in missing:
        click.echo(f"{name}: not implemented yet (skipped)")
    stack = Stack([n for n in wanted if n not in missing], work_dir=work_dir, bootstrap=bootstrap,
                  broker_port=port, on_progress=click.echo)
    try:
        stack.start()
        click.echo(f"up: {len(stack.processes)} services on {stack.bootstrap}; logs in {work_dir}/logs; Ctrl-C stops")
        _wait_for_signal()
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        stack.stop()
        click.echo("stopped")


# -- data -------------------------------------------------------------------------------------------
@main.command()
@click.argument("topic_name", metavar="TOPIC")
@click.argument("file", type=click.File("rb"))
@click.option("--no-validate", is_flag=True, help="send lines as they are (to test dead-lettering)")
def publish(topic_name: str, file: Any, no_validate: bool) -> None:
    """Publish JSON lines (one CloudEvent each) from FILE ('-' for stdin) to TOPIC."""
    from .topics import topic

    try:
        target = topic(topic_name)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from None
    from .events import decoder_for

    decoder = decoder_for(target.event_types)
    records: list[tuple[bytes | None, bytes]] = []
    for number, line in enumerate(file, start=1):
        line = line.strip()
        if not line:
            continue
        if no_validate:
            records.append((None, line))
            continue
        try:
            event = decoder.validate_json(line)
        except ValidationError as exc:
            errors = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
            raise click.ClickException(f"line {number} is not a valid event for {target.name}: {errors} (nothing sent)") from None
        records.append((target.key_for(event).encode(), line))
    sent = asyncio.run(_produce(_settings(), target.name, records))
    click.echo(f"published {sent} events to {target.name}")


async def _produce(settings: PnSettings, topic_name: str, records: list[tuple[bytes | None, bytes]]) -> int:
    from aiokafka import AIOKafkaProducer

    from .events.envelope import CONTENT_TYPE_HEADER
    from .kafka_client import producer_kwargs

    producer = AIOKafkaProducer(**producer_kwargs(settings))
    try:
        await asyncio.wait_for(producer.start(), 30)
    except Exception as exc:
        raise click.ClickException(f"cannot reach Kafka at {settings.kafka_bootstrap}: {type(exc).__name__}") from None
    try:
        futures = [await producer.send(topic_name, value, key=key, headers=[CONTENT_TYPE_HEADER])
                   for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return len(records)


@main.command()
@click.argument("topic_names", metavar="TOPIC...", nargs=-1, required=True)
@click.option("--from-beginning", is_flag=True, help="start at the oldest record, not the newest")
@click.option("--max", "max_n", type=int, default=None, help="stop after N records")
@click.option("--timeout", type=float, default=None, help="stop after S seconds without a record")
@click.option("--json", "as_json", is_flag=True, help="print raw JSON lines")
def tail(topic_names: tuple[str, ...], from_beginning: bool, max_n: int | None, timeout: float | None, as_json: bool) -> None:
    """Follow one or more topics; alerts are coloured by severity."""
    from .topics import topic

    for name in topic_names:
        try:
            topic(name)
        except KeyError as exc:
            raise click.ClickException(str(exc.args[0])) from None
    asyncio.run(_tail(_settings(), list(topic_names), from_beginning, max_n, timeout, as_json))


async def _tail(settings: PnSettings, names: list[str], from_beginning: bool, max_n: int | None,
                timeout: float | None, as_json: bool) -> None:
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from rich.console import Console

    from .kafka_client import consumer_kwargs

    console = Console(highlight=False, soft_wrap=True)
    consumer = AIOKafkaConsumer(**consumer_kwargs(settings, group_id=None))
    try:
        await asyncio.wait_for(consumer.start(), 30)
    except Exception as exc:
        raise click.ClickException(f"cannot reach Kafka at {settings.kafka_bootstrap}: {type(exc).__name__}") from None
    try:
        tps = [TopicPartition(n, p) for n in names for p in sorted(await _partitions(consumer, n))]
        consumer.assign(tps)
        if from_beginning:
            await consumer.seek_to_beginning(*tps)
        else:
            await consumer.seek_to_end(*tps)
        seen, idle_since = 0, time.monotonic()
        while max_n is None or seen < max_n:
            batch = await consumer.getmany(timeout_ms=200, max_records=500)
            records = [r for rs in batch.values() for r in rs]
            if not records:
                if timeout is not None and time.monotonic() - idle_since > timeout:
                    break
                continue
            idle_since = time.monotonic()
            for record in sorted(records, key=lambda r: r.timestamp):
                if max_n is not None and seen >= max_n:
                    break
                seen += 1
                _print_record(console, record, as_json)
    finally:
        await consumer.stop()


async def _partitions(consumer: Any, name: str) -> set[int]:
    for _ in range(50):
        parts = consumer.partitions_for_topic(name)
        if parts:
            return parts
        await consumer._client.force_metadata_update()  # noqa: SLF001 - aiokafka has no public call
        await asyncio.sleep(0.1)
    raise click.ClickException(f"topic {name} does not exist on the broker")


def _print_record(console: Any, record: Any, as_json: bool) -> None:
    text = record.value.decode("utf-8", "replace") if record.value else ""
    if as_json:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        return
    try:
        event = json.loads(text)
        data = event.get("data", {})
    except (ValueError, AttributeError):
        console.print(f"[dim]{record.topic}[{record.partition}]@{record.offset}[/] [red]not JSON[/] {text[:200]}")
        return
    severity = data.get("severity") if isinstance(data, dict) else None
    style = SEVERITY_STYLE.get(severity or "", "")
    head = f"[dim]{record.topic}[{record.partition}]@{record.offset}[/] [bold]{event.get('type', '?')}[/]"
    if severity:
        message = data.get("message", {})
        line = f"{head} [{style}]{severity.upper()} {data.get('rule_id', '')}[/] {data.get('subject', '')}: {message.get('en', '') if isinstance(message, dict) else ''}"
        if event.get("type") == "pn.alert.resolved":
            line = f"{head} [green]RESOLVED {data.get('rule_id', '')}[/] {data.get('subject', '')}"
        console.print(line)
    else:
        console.print(f"{head} {json.dumps(data, ensure_ascii=False)[:300]}")


# -- schema -----------------------------------------------------------------------------------------
@main.command()
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="directory to write")
def schema(out_dir: Path) -> None:
    """Write a JSON Schema per event type, an AsyncAPI 3.0 document of all topics and an OpenAPI
    3.1 document per service (openapi/<service>.json, the one it serves at /openapi.json)."""
    from shared.openapi import write_openapi

    from .schema import write_schemas

    files = write_schemas(out_dir) + write_openapi(out_dir)
    click.echo(f"wrote {len(files)} files to {out_dir}")


def _load_extras() -> None:
    for module in EXTRA_COMMANDS:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                continue
            raise
        for command in getattr(mod, "COMMANDS", ()):
            main.add_command(command)


_load_extras()

if __name__ == "__main__":
    main()
