"""CPU of one worker process per input on the broker: less noisy than events/s on 2 shared cores.

    python -m bench.worker_cpu billing|fees|budget|intake|diary [N]

Starts an embedded broker and `pn run SERVICE` (dev profile, JSON logs at INFO), waits 10 s for
it to join and recover, then reads its user+system CPU from /proc, produces N inputs of the
service's main kind (bench/on_broker.py's workloads) and waits for every output; the CPU the worker
used in between, divided by N, is printed with the busiest threads (faust's consumer runs aiokafka
in a thread of its own). The bench's producer and reader and the broker are not counted.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid

from shared.broker import EmbeddedBroker, ensure_topics, free_port
from shared.settings import PnSettings

from .on_broker import ROOT, WORKLOADS, _drive, _produce

TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread (`tid:name`) of process `pid`."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = open(f"/proc/{pid}/task/{tid}/stat").read()
        except OSError:
            continue
        name, fields = stat.split("(", 1)[1].rsplit(")", 1)[0], stat.rsplit(")", 1)[1].split()
        out[f"{tid}:{name}"] = (int(fields[11]) + int(fields[12])) / TICK
    return out


def main(service: str, n: int) -> None:
    broker = EmbeddedBroker().start()
    log = tempfile.NamedTemporaryFile(prefix=f"pn-{service}-", suffix=".log", delete=False)
    try:
        asyncio.run(ensure_topics(PnSettings(kafka_bootstrap=broker.bootstrap)))
        work = WORKLOADS[service](n, uuid.uuid4().hex[:6])
        asyncio.run(_produce(broker.bootstrap, work.setup))
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("PN_")},
               "PN_KAFKA_BOOTSTRAP": broker.bootstrap, "PN_DATA_DIR": tempfile.mkdtemp(prefix="pn-cpu-"),
               "PN_WEB_PORT": str(free_port()), "PN_PROFILE": "dev", "PN_LOG_FORMAT": "json",
               "PN_RULES_DIR": str(ROOT / "rules"), **work.env,
               **{k: v for k, v in os.environ.items() if k.startswith("PN_")}}
        proc = subprocess.Popen([sys.executable, "-m", "shared.cli", "run", service], env=env, cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            time.sleep(10)
            before = thread_cpu(proc.pid)
            ins, outs = asyncio.run(_drive(broker.bootstrap, work, 300))
            after = thread_cpu(proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)
    finally:
        broker.stop()
    used = {t: after[t] - before.get(t, 0.0) for t in after}
    total = sum(used.values())
    wall = (max(outs.values(), default=0) - min(ins.values())) / 1000
    print(f"{service}: {len(outs)}/{len(ins)} outputs in {wall:.2f} s; worker CPU {total:.2f} s = "
          f"{total / n * 1e6:.0f} µs per input (log: {log.name})")
    for thread, seconds in sorted(used.items(), key=lambda kv: -kv[1])[:4]:
        print(f"  thread {thread}: {seconds:.2f} s")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "billing", int(sys.argv[2]) if len(sys.argv) > 2 else 20_000)
