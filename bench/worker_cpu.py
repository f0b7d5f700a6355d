"""CPU of one worker process per input on the broker: less noisy than events/s on 2 shared cores.

    python -m bench.worker_cpu billing|fees|budget|intake|diary [N]

Starts an embedded broker and the service as `bench.on_broker.measure` does (`Stack`, `pn run
SERVICE`, dev profile), waits until it answers /health, then reads its user+system CPU from /proc,
produces N inputs of the service's main kind and waits for every output; the CPU the worker used
in between, divided by N, is printed with the busiest threads (faust's consumer runs aiokafka in
a thread of its own). The broker's CPU over the same span is printed beside it (on 2 cores the
two share the machine with the bench's producer and reader, which are not counted).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid
from pathlib import Path

from shared.platform.supervisor import Stack

from .common import broker
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
    work = WORKLOADS[service](n, uuid.uuid4().hex[:6])
    with broker() as (b, _settings), tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_produce(b.bootstrap, work.setup))
        env = {"PN_RULES_DIR": str(ROOT / "rules"), **work.env}
        stack = Stack([service], work_dir=Path(tmp), bootstrap=b.bootstrap, env=env).start(120)
        try:
            pid, broker_pid = stack.processes[service].proc.pid, b.proc.pid
            before, broker_before = thread_cpu(pid), sum(thread_cpu(broker_pid).values())
            ins, outs = asyncio.run(_drive(b.bootstrap, work, 300))
            after, broker_used = thread_cpu(pid), sum(thread_cpu(broker_pid).values()) - broker_before
        finally:
            stack.stop()
    used = {t: after[t] - before.get(t, 0.0) for t in after}
    total = sum(used.values())
    wall = (max(outs.values(), default=0) - min(ins.values())) / 1000
    print(f"{service}: {len(outs)}/{len(ins)} outputs in {wall:.2f} s; worker CPU {total:.2f} s = "
          f"{total / n * 1e6:.0f} µs per input; broker CPU {broker_used:.2f} s = {broker_used / n * 1e6:.0f} µs")
    for thread, seconds in sorted(used.items(), key=lambda kv: -kv[1])[:4]:
        print(f"  thread {thread}: {seconds:.2f} s")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "billing", int(sys.argv[2]) if len(sys.argv) > 2 else 20_000)
