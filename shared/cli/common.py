"""The habits every `pn` command shares (issue 26): `-b/--bootstrap`, settings errors and broker
errors as one line with a non-zero exit code, `--json` on listings.

A command that talks to Kafka takes `@bootstrap_option` and builds its settings with
`settings(bootstrap=...)`; anything the Kafka client raises (unreachable broker, timeouts, bad
TLS files) leaves `pn` as `Error: cannot reach Kafka at HOST:PORT (...)` through `PnGroup`, never
as a traceback, and aiokafka's own log lines and "Unclosed" warnings are kept off the terminal.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import warnings
from typing import Any

import click
from pydantic import ValidationError

from shared.service.settings import PnSettings

KAFKA_LOGGERS = ("aiokafka", "kafka")


def bootstrap_option(func: Any) -> Any:
    """`-b/--bootstrap HOST:PORT[,...]`: the Kafka to talk to (default PN_KAFKA_BOOTSTRAP)."""
    return click.option("-b", "--bootstrap", default=None, metavar="HOST:PORT",
                        help="Kafka bootstrap servers (default: PN_KAFKA_BOOTSTRAP)")(func)


def json_option(func: Any) -> Any:
    """`--json`: one JSON object per line, for scripts (every listing has it)."""
    return click.option("--json", "as_json", is_flag=True, help="one JSON object per line")(func)


def settings(bootstrap: str | None = None, **overrides: Any) -> PnSettings:
    """PN_* settings with the command line's overrides; a bad setting is one line, exit 1."""
    try:
        base = PnSettings()
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "PN_" + "_".join(map(str, err["loc"])).upper()
        raise click.ClickException(f"invalid setting {name}: {err['msg']}") from None
    if bootstrap is not None:
        overrides["kafka_bootstrap"] = bootstrap
    result = base.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.find_root().meta["pn.bootstrap"] = result.kafka_bootstrap  # for PnGroup's one line
    return result


def is_kafka_error(exc: BaseException) -> bool:
    """The exceptions a broker that cannot be reached (or refuses us) raises through aiokafka."""
    if isinstance(exc, BrokenPipeError):  # our stdout closed (`pn ... | head`), not the broker
        return False
    return (type(exc).__module__.split(".")[0] in {"aiokafka", "kafka"}
            or isinstance(exc, (asyncio.TimeoutError, ConnectionError, socket.gaierror)))


def quiet_kafka_client() -> None:
    """The CLI's errors are its one line: aiokafka's retry chatter and the ResourceWarnings of
    clients a failed start left behind would only repeat it (workers keep theirs: `pn run`)."""
    for name in KAFKA_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", category=ResourceWarning)
    warnings.filterwarnings("ignore", message="Unclosed AIOKafka")


class PnGroup(click.Group):
    """The root group: turns a Kafka client error escaping any command into one line, exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            # the reader of our output went away (`pn demo --scenario-only | head`): stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise click.exceptions.Exit(1) from None
        except Exception as exc:
            from shared.kafka.client import KafkaConfigError

            if isinstance(exc, KafkaConfigError):  # a bad PN_KAFKA_* setting: its own words
                raise click.ClickException(str(exc)) from None
            if not is_kafka_error(exc):
                raise
            where = ctx.meta.get("pn.bootstrap") or _bootstrap_of(ctx)
            raise click.ClickException(f"cannot reach Kafka at {where} ({type(exc).__name__}: {exc})"
                                       .replace(": )", ")")) from None


def _bootstrap_of(ctx: click.Context) -> str:
    sub = ctx.invoked_subcommand
    try:
        return PnSettings().kafka_bootstrap if sub else "?"
    except ValidationError:
        return "?"


async def stop_quietly(client: Any) -> None:
    """Stop/close an aiokafka client whose start may have failed (else: "Unclosed ..." at exit)."""
    try:
        closer = getattr(client, "stop", None) or client.close
        await closer()
    except Exception:
        pass
