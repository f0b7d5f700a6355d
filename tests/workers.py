"""More workers of one service beside a `Stack`'s first, in its consumer group (issue 27).

Each worker is its own process (`pn run NAME`) with its own `PN_DATA_DIR` (RocksDB locks its
directory) and web port, as two workers on one host must be run. Until the supervisor starts N
workers of a service itself, tests add them here: `stack.processes["fees#2"]` is the second.
"""

from __future__ import annotations

import re
import urllib.request

from shared.kafka.broker import free_port
from shared.platform.supervisor import ServiceProcess, Stack


def add_worker(stack: Stack, service: str, index: int) -> str:
    """Start worker `index` (2, 3, ...) of `service`; returns its key in `stack.processes`."""
    port = free_port()
    env = stack.env_for(service, port)
    env["PN_DATA_DIR"] = str(stack.work_dir / f"data-{index}")
    key = f"{service}#{index}"
    proc = ServiceProcess(service, env, stack.work_dir / "logs" / f"{service}-{index}.log", port)
    proc.start()
    stack.processes[key] = proc
    return key


def restart_worker(stack: Stack, key: str, timeout: float = 90.0) -> ServiceProcess:
    """Start a (killed) worker again with its environment, data directory, log and port."""
    old = stack.processes[key]
    old.stop()
    proc = ServiceProcess(old.name, old.env, old.log_path, old.web_port)
    proc.start()
    stack.processes[key] = proc
    stack.wait_healthy(timeout, [key])
    return proc


_OFFSET_ANY = re.compile(r'^pn_consumer_offset\{([^}]*)\}', re.M)


def partitions_processed(proc: ServiceProcess, topic: str) -> set[int]:
    """The partitions of `topic` this worker has processed records of (its /metrics)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{proc.web_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = set()
    for labels in _OFFSET_ANY.findall(text):
        pairs = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if pairs.get("topic") == topic:
            out.add(int(pairs["partition"]))
    return out
