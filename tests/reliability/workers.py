"""What each worker of a service processes (issue 27), read from its `/metrics`
(`pn_consumer_offset` per topic and partition), and its views asked directly."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

from shared.platform.supervisor import ServiceProcess

OFFSET = re.compile(r'^pn_consumer_offset\{([^}]*)\} ', re.M)


def processed(proc: ServiceProcess) -> set[tuple[str, int]]:
    """(topic, partition) this worker has processed records of, from its /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{proc.web_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = set()
    for labels in OFFSET.findall(text):
        fields = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        out.add((fields["topic"], int(fields["partition"])))
    return out


def get(proc: ServiceProcess, path: str, token: str) -> tuple[int, bytes]:
    """A view of this worker, as an officer's client would ask it."""
    req = urllib.request.Request(f"http://127.0.0.1:{proc.web_port}{path}",
                                 headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
