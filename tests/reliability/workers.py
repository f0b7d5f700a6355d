"""Which partitions a worker has processed, from its /metrics (`pn_consumer_offset`): to check
that each of several workers of a service had work, and which one holds a one-partition stage."""

from __future__ import annotations

import re
import urllib.request

from shared.platform.supervisor import ServiceProcess

_OFFSET = re.compile(r"^pn_consumer_offset\{([^}]*)\}", re.M)
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def processed(proc: ServiceProcess) -> set[tuple[str, int]]:
    """(topic, partition) this worker has processed a batch of (since its start)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{proc.web_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    labels = [dict(_LABEL.findall(found)) for found in _OFFSET.findall(text)]
    return {(x["topic"], int(x["partition"])) for x in labels}
