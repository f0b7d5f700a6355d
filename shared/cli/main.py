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

from shared.cli.common import (
    PnGroup,
    bootstrap_option,
    json_option,
    quiet_kafka_client,
    stop_quietly,
)
from shared.cli.common import settings as _common_settings
from shared.platform.registry import names as service_names
from shared.service.settings import PnSettings

EXTRA_COMMANDS = ("shared.cli.deadletter", "shared.cli.demo", "shared.cli.security", "shared.cli.report",
                  "shared.cli.archive")
SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


@click.group(cls=PnGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="patientnamnd", prog_name="pn", message="%(prog)s %(version)s")
@click.pass_context
def main(ctx: click.Context) -> None:
    """patientnamnd: the event platform of a Swedish patientnämnd."""
    if ctx.invoked_subcommand not in ("run", "broker"):  # workers and the broker keep their logs
        quiet_kafka_client()


def _settings(bootstrap: str | None = None, **overrides: Any) -> PnSettings:
    return _common_settings(bootstrap, **overrides)


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
    from shared.kafka.broker import BrokerError, EmbeddedBroker, ensure_topics

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
@bootstrap_option
@click.option("--wait", default=10.0, show_default=True, type=click.FloatRange(min=0),
              help="seconds to keep trying to reach the broker before giving up")
@click.option("--dry-run", is_flag=True, help="only print what would change")
@click.option("--grow", is_flag=True, help="also add partitions where the catalog has more (keys move!)")
def topics_cmd(bootstrap: str | None, wait: float, dry_run: bool, grow: bool) -> None:
    """Reconcile PN_KAFKA_BOOTSTRAP's topics with the catalog: create what is missing, print and fix
    configuration differences; refuse to shrink partitions (the compose topic-init job runs this)."""
    from shared.kafka.admin import TopicPlanError, reconcile
    from shared.kafka.broker import BrokerError

    settings = _settings(bootstrap)
    try:
        plan = asyncio.run(reconcile(settings, dry_run=dry_run, grow=grow, timeout=max(wait, 0.5)))
    except TopicPlanError as exc:
        for line in exc.plan.lines(settings.replay_window_days) if exc.plan else ():
            click.echo(line)
        raise click.ClickException(f"nothing changed: {exc}") from None
    except BrokerError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # the broker refused an admin call (e.g. Tansu has no CreatePartitions)
        if type(exc).__module__.startswith("aiokafka") or isinstance(exc, RuntimeError):
            raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
        raise
    for line in plan.lines(settings.replay_window_days):
        click.echo(("would " if dry_run else "") + line)
    verb = "would change" if dry_run else "changed"
    click.echo(f"topics on {settings.kafka_bootstrap}: {len(plan.create)} to create, {len(plan.changes)} config "
               f"differences, {len(plan.grow)} partition differences ({verb if not plan.empty else 'all as the catalog'})")


# -- services ---------------------------------------------------------------------------------------
@main.command()
@click.option("--json", "as_json", is_flag=True, help="one JSON object per service")
def services(as_json: bool) -> None:
    """The services of the platform, from their specs: port, what they read and write."""
    from shared.platform.registry import specs

    for spec in specs().values():
        if as_json:
            click.echo(json.dumps({"name": spec.name, "port": spec.port, "summary": spec.summary,
                                   "inputs": [t.name for t in spec.inputs],
                                   "outputs": [t.name for t in spec.outputs]}, ensure_ascii=False))
        else:
            click.echo(f"{spec.name} (:{spec.port}) {spec.summary}\n  in:  {', '.join(t.name for t in spec.inputs)}"
                       f"\n  out: {', '.join(t.name for t in spec.outputs)}")


@main.command()
@click.argument("service", type=click.Choice(service_names()))
@bootstrap_option
def run(service: str, bootstrap: str | None) -> None:
    """Run one service worker in the foreground (settings from PN_* environment variables)."""
    from shared.kafka.client import KafkaConfigError
    from shared.platform.registry import ServiceNotAvailable, create_app, settings_for
    from shared.runtime.app import run_worker
    from shared.runtime.heap import limit_arenas, start_trimming
    from shared.service.logging import configure, get_logger
    from shared.service.rules import RulesFileError
    from shared.service.settings import retired_in

    if bootstrap is not None:  # the service's own settings class reads the environment
        os.environ["PN_KAFKA_BOOTSTRAP"] = bootstrap
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
@click.option("-b", "--bootstrap", default=None, metavar="HOST:PORT",
              help="use this Kafka instead of starting the embedded broker")
@click.option("--services", "names", default=",".join(service_names()), show_default=True)
@click.option("--work-dir", default="var/up", show_default=True, type=click.Path(path_type=Path))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 8),
              help="workers per service, one consumer group each (own data dir and web port)")
def up(port: int, bootstrap: str | None, names: str, work_dir: Path, workers: int) -> None:
    """Run the broker and every service as child processes until Ctrl-C.

    A service that exits is restarted with a growing pause (1 s, 2 s, 4 s ... 60 s), and says so;
    the services keep the caller's PN_* settings, PN_PROFILE included (default dev)."""
    from shared.platform.restarts import Restarter
    from shared.platform.supervisor import Stack, StackError

    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in service_names()]
    if unknown:
        raise click.ClickException(f"unknown services {', '.join(unknown)}; services: {', '.join(service_names())}")
    stack = Stack(wanted, work_dir=work_dir, bootstrap=bootstrap,
                  broker_port=port, on_progress=click.echo, workers=workers)
    try:
        stack.start()
        click.echo(f"up: {len(wanted)} services ({len(stack.processes)} workers) on {stack.bootstrap}; "
                   f"logs in {work_dir}/logs; Ctrl-C stops")
        restarter = Restarter(stack, say=click.echo)
        _catch_signals()
        while not _stop["now"]:
            restarter.check()
            time.sleep(0.2)
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
@bootstrap_option
def publish(topic_name: str, file: Any, no_validate: bool, bootstrap: str | None) -> None:
    """Publish JSON lines (one CloudEvent each) from FILE ('-' for stdin) to TOPIC.

    Lines of `pn demo --scenario-only` ({"topic", "key", "event"}) are taken too: those of TOPIC
    are published (their event), the others are counted and skipped."""
    from shared.apps.demo.lines import unwrap
    from shared.contract.topics import topic

    try:
        target = topic(topic_name)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from None
    from shared.contract.events import decoder_for

    settings = _settings(bootstrap)
    decoder = decoder_for(target.event_types)
    records: list[tuple[bytes | None, bytes]] = []
    skipped = 0
    for number, line in enumerate(file, start=1):
        line = line.strip()
        if not line:
            continue
        line, other_topic = unwrap(line, target.name)
        if other_topic:
            skipped += 1
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
    if skipped:
        click.echo(f"skipped {skipped} lines for other topics than {target.name}", err=True)
    sent = asyncio.run(_produce(settings, target.name, records))
    click.echo(f"published {sent} events to {target.name}")


async def _produce(settings: PnSettings, topic_name: str, records: list[tuple[bytes | None, bytes]]) -> int:
    """Send and wait for every ack, with a progress bar on stderr (a terminal only)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from shared.contract.events.envelope import CONTENT_TYPE_HEADER
    from shared.kafka.io import new_producer

    producer = new_producer(settings)
    try:
        await asyncio.wait_for(producer.start(), 30)
    except Exception as exc:
        await stop_quietly(producer)
        raise click.ClickException(f"cannot reach Kafka at {settings.kafka_bootstrap} ({type(exc).__name__})") from None
    console = Console(stderr=True)
    try:
        with Progress(TextColumn(f"publishing to {topic_name}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=True,
                      disable=not console.is_terminal) as progress:
            task = progress.add_task("send", total=len(records))
            futures = []
            for key, value in records:
                future = await producer.send(topic_name, value, key=key, headers=[CONTENT_TYPE_HEADER])
                future.add_done_callback(lambda _f: progress.advance(task))
                futures.append(future)
            await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return len(records)


@main.command()
@click.argument("topic_names", metavar="TOPIC...", nargs=-1, required=True)
@click.option("--from-beginning", is_flag=True, help="start at the oldest record, not the newest")
@click.option("--max", "max_n", type=int, default=None, help="stop after N records")
@click.option("--timeout", type=float, default=None, help="stop after S seconds without a record")
@json_option
@click.option("--lang", type=click.Choice(["sv", "en"]), default="sv", show_default=True,
              help="language of alert messages")
@bootstrap_option
def tail(topic_names: tuple[str, ...], from_beginning: bool, max_n: int | None, timeout: float | None,
         as_json: bool, lang: str, bootstrap: str | None) -> None:
    """Follow one or more topics; alerts are coloured by severity, in Swedish (--lang en: English)."""
    from shared.contract.topics import topic

    for name in topic_names:
        try:
            topic(name)
        except KeyError as exc:
            raise click.ClickException(str(exc.args[0])) from None
    asyncio.run(_tail(_settings(bootstrap), list(topic_names), from_beginning, max_n, timeout, as_json, lang))


async def _tail(settings: PnSettings, names: list[str], from_beginning: bool, max_n: int | None,
                timeout: float | None, as_json: bool, lang: str = "sv") -> None:
    from rich.console import Console

    from shared.kafka.io import new_consumer, topic_partition

    console = Console(highlight=False, soft_wrap=True)
    consumer = new_consumer(settings)
    try:
        await asyncio.wait_for(consumer.start(), 30)
    except Exception as exc:
        await stop_quietly(consumer)
        raise click.ClickException(f"cannot reach Kafka at {settings.kafka_bootstrap} ({type(exc).__name__})") from None
    try:
        tps = [topic_partition(n, p) for n in names for p in sorted(await _partitions(consumer, n))]
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
                _print_record(console, record, as_json, lang)
    finally:
        await consumer.stop()


async def _partitions(consumer: Any, name: str) -> set[int]:
    from shared.kafka.io import refresh_metadata

    for _ in range(50):
        parts = consumer.partitions_for_topic(name)
        if parts:
            return parts
        await refresh_metadata(consumer)
        await asyncio.sleep(0.1)
    raise click.ClickException(f"topic {name} does not exist on the broker")


def _print_record(console: Any, record: Any, as_json: bool, lang: str = "sv") -> None:
    value = record.value
    if value and getattr(record, "headers", None):  # a CloudEvents binary-mode record: shown structured
        from shared.contract.events.binary_mode import NotCloudEvent, is_binary, to_structured

        if is_binary(record.headers):
            try:
                value = to_structured(record.headers, value)
            except NotCloudEvent:
                pass
    text = value.decode("utf-8", "replace") if value else ""
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
        line = f"{head} [{style}]{severity.upper()} {data.get('rule_id', '')}[/] {data.get('subject', '')}: {_message_in(message, lang)}"
        if event.get("type") == "pn.alert.resolved":
            line = f"{head} [green]RESOLVED {data.get('rule_id', '')}[/] {data.get('subject', '')}"
        console.print(line)
    else:
        console.print(f"{head} {json.dumps(data, ensure_ascii=False)[:300]}")


def _message_in(message: Any, lang: str) -> str:
    """An alert's message in `lang` (sv or en), the other language when that one is missing."""
    if not isinstance(message, dict):
        return ""
    other = "en" if lang == "sv" else "sv"
    return str(message.get(lang) or message.get(other) or "")


# -- schema -----------------------------------------------------------------------------------------
@main.command()
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="directory to write")
def schema(out_dir: Path) -> None:
    """Write a JSON Schema per event type and an AsyncAPI 3.0 document of all topics."""
    from shared.contract.schema import write_schemas

    files = write_schemas(out_dir)
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
