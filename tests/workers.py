"""Which partitions a worker of a `Stack` processed (issue 27: several workers of a service)."""

from __future__ import annotations

import re
import urllib.request

from shared.platform.supervisor import ServiceProcess

_OFFSET = re.compile(r'^pn_consumer_offset\{([^}]*)\}', re.M)


def partitions_processed(proc: ServiceProcess, topic: str) -> set[int]:
    """The partitions of `topic` this worker has processed records of (its pn_consumer_offset);
    empty when it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{proc.web_port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return set()
    out = set()
    for labels in _OFFSET.findall(text):
        pairs = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if pairs.get("topic") == topic:
            out.add(int(pairs["partition"]))
    return out
