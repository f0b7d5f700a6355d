"""A second worker of a service beside a `Stack`'s first, in the same consumer group, with its own
data directory (RocksDB locks its directory) and web port; and which partitions a worker has
processed, from its /metrics (`pn_consumer_offset`)."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

from shared.kafka.broker import free_port
from shared.platform.supervisor import ServiceProcess, Stack

_OFFSET = re.compile(r"^pn_consumer_offset\{([^}]*)\}", re.M)
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def second_worker(stack: Stack, name: str, work_dir: Path) -> ServiceProcess:
    port = free_port()
    env = stack.env_for(name, port)
    env["PN_DATA_DIR"] = str(work_dir / "data-2")
    proc = ServiceProcess(name, env, work_dir / "logs" / f"{name}-2.log", port)
    proc.start()
    return proc


def processed(proc: ServiceProcess) -> set[tuple[str, int]]:
    """(topic, partition) this worker has processed a batch of (since its start)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{proc.web_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    labels = [dict(_LABEL.findall(found)) for found in _OFFSET.findall(text)]
    return {(x["topic"], int(x["partition"])) for x in labels}
