"""Two workers of one service in one consumer group, as an operator runs them (issue 27): the
first started by `Stack`, the second beside it with its own data directory and web port (RocksDB
locks its directory). What each worker processes is read from its `/metrics`
(`pn_consumer_offset` per topic and partition)."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

from shared.kafka.broker import free_port
from shared.platform.supervisor import ServiceProcess, Stack

OFFSET = re.compile(r'^pn_consumer_offset\{([^}]*)\} ', re.M)


def second_worker(stack: Stack, name: str, work_dir: Path) -> ServiceProcess:
    """Start another worker of `name` in the stack's consumer group (not waited for)."""
    port = free_port()
    env = {**stack.env_for(name, port), "PN_DATA_DIR": str(work_dir / "data-2")}
    proc = ServiceProcess(name, env, work_dir / "logs" / f"{name}-2.log", port)
    proc.start()
    return proc


def processed(proc: ServiceProcess) -> set[tuple[str, int]]:
    """(topic, partition) this worker has processed records of, from its /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{proc.web_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = set()
    for labels in OFFSET.findall(text):
        fields = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        out.add((fields["topic"], int(fields["partition"])))
    return out
