"""Time from kill -9 of a worker to its partitions being processed again, standby replicas 0 and 1.

    python -m bench.takeover [--postings 30000] [--runs 2] [--standby 0,1] [--session-timeout 6]

Per configuration, on its own fresh embedded broker: two budget workers in one group
(`Stack(..., workers=2)`, each its own data dir), `--postings` postings of cost centre 6101 (one
partition of `pn.finance.postings`; each posting one record of the `ledger` table, so the
partition's changelog holds at least that many records) processed by the worker that holds the
partition; then that worker is killed with SIGKILL and one more posting is sent. Measured from
the kill:
- `processing_s`: until the survivor has processed a record of the dead worker's partition (its
  `pn_consumer_offset` for that partition appears on /metrics);
- `ready_s`: until the survivor's /health answers 200 again after it had turned 503 for the
  takeover (rebalance, table recovery); `-` if it never turned 503 between two polls (50 ms).
A kill -9 sends no LeaveGroup: the group notices the dead member only after the session timeout
(`PN_SESSION_TIMEOUT_S`, dev default 6 s, prod 45 s), which bounds both figures from below.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiokafka.partitioner import murmur2

from shared.contract.events import LedgerPosted, make_event
from shared.contract.topics import FINANCE_POSTINGS
from shared.kafka.broker import EmbeddedBroker, ensure_topics
from shared.kafka.io import produce, wait_consumed
from shared.platform.supervisor import ServiceProcess, Stack
from shared.service.settings import PnSettings

from .common import Figure, print_table
from .on_broker import ROOT

CENTRE = "6101"
YEAR = 2098


def _processed(proc: ServiceProcess, partition: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{proc.web_port}/metrics", timeout=1) as r:
            text = r.read().decode()
    except OSError:
        return False
    return any(f'partition="{partition}"' in line and f'topic="{FINANCE_POSTINGS.name}"' in line
               for line in re.findall(r"^pn_consumer_offset\{.*$", text, re.M))


def _health(proc: ServiceProcess) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{proc.web_port}/health", timeout=1) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _postings(n: int, run: str, start: int = 0) -> list:
    return [make_event(LedgerPosted(posting_id=f"{run}-{i}", period=f"{YEAR}-{1 + i % 12:02d}", cost_centre=CENTRE,
                                    account_group="other", amount="-1.00", text="bench"),
                       source="/bench", time=datetime.now(UTC), id=f"{run}-{i}") for i in range(start, start + n)]


def takeover_run(postings: int, standby: int, session_timeout: float) -> Figure:
    partition = (murmur2(CENTRE.encode()) & 0x7FFFFFFF) % FINANCE_POSTINGS.partitions
    run = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        broker = EmbeddedBroker(log_file=root / "broker.log").start()
        settings = PnSettings(kafka_bootstrap=broker.bootstrap)
        asyncio.run(ensure_topics(settings))
        env = {"PN_RULES_DIR": str(ROOT / "rules"), "PN_STANDBY_REPLICAS": str(standby),
               "PN_SESSION_TIMEOUT_S": str(session_timeout), "PN_LOG_LEVEL": "WARNING"}
        stack = Stack(["budget"], work_dir=root, bootstrap=broker.bootstrap, env=env, workers=2)
        try:
            stack.start(120)
            asyncio.run(produce(settings, FINANCE_POSTINGS, _postings(postings, run)))
            asyncio.run(wait_consumed(settings, "pn-budget", [FINANCE_POSTINGS], deadline=time.monotonic() + 600))
            workers = stack.workers_of("budget")
            owners = [w for w in workers if _processed(w, partition)]
            if len(owners) != 1:
                raise RuntimeError(f"expected one worker to hold partition {partition}, found {len(owners)}")
            victim, survivor = owners[0], next(w for w in workers if w is not owners[0])
            killed = time.monotonic()
            victim.kill9()
            asyncio.run(produce(settings, FINANCE_POSTINGS, _postings(1, run, start=postings)))
            processing = ready = None
            went_down = False
            while time.monotonic() - killed < 300 and (processing is None or ready is None):
                now = time.monotonic()
                if processing is None and _processed(survivor, partition):
                    processing = now - killed
                status = _health(survivor)
                went_down = went_down or status != 200
                if went_down and status == 200 and ready is None:
                    ready = now - killed
                if processing is not None and not went_down and now - killed > processing + 1:
                    break  # never seen not ready: the takeover fell between two polls
                time.sleep(0.05)
        finally:
            stack.stop()
            broker.stop()
    if processing is None:
        raise RuntimeError("the survivor never processed the dead worker's partition")
    return Figure(f"takeover, standby replicas {standby}", postings, processing,
                  {"processing_s": f"{processing:.1f}", "ready_s": "-" if ready is None else f"{ready:.1f}",
                   "session_timeout_s": f"{session_timeout:g}"})


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.takeover")
    parser.add_argument("--postings", type=int, default=30_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--standby", default="0,1")
    parser.add_argument("--session-timeout", type=float, default=6.0)
    args = parser.parse_args()
    figures = [takeover_run(args.postings, int(s), args.session_timeout)
               for _ in range(args.runs) for s in args.standby.split(",")]
    print_table(f"kill -9 → partitions processed again ({args.postings:,} postings on the dead worker's "
                "partition; events = postings, seconds = processing_s)", figures)


if __name__ == "__main__":
    main()
