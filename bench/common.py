"""Shared bench plumbing: an embedded broker per run, event generators, timing and RSS figures."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from shared.kafka.broker import EmbeddedBroker, ensure_topics
from shared.service.settings import PnSettings


@dataclass
class Figure:
    name: str
    events: int
    seconds: float
    extra: dict[str, str] = field(default_factory=dict)
    baseline: Figure | None = None
    """the raw pipe measured next to this figure, when it has its own (its ratio is to that one)"""

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def print_table(title: str, figures: list[Figure], baseline: Figure | None = None) -> None:
    print(f"\n{title}")
    print(f"{'pattern':<52} {'events':>8} {'s':>7} {'events/s':>10} {'ratio':>6}  notes")
    for f in figures:
        base = f.baseline or baseline
        ratio = f"{f.rate / base.rate:.2f}" if base and base.rate else "-"
        notes = " ".join(f"{k}={v}" for k, v in f.extra.items())
        print(f"{f.name:<52} {f.events:>8} {f.seconds:>7.2f} {f.rate:>10,.0f} {ratio:>6}  {notes}")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_rss_mb(pid: int) -> float:
    """Current RSS of a child process from /proc (peak is sampled by the caller)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@contextmanager
def broker() -> Iterator[tuple[EmbeddedBroker, PnSettings]]:
    b = EmbeddedBroker().start()
    settings = PnSettings(kafka_bootstrap=b.bootstrap, log_level="WARNING")
    asyncio.run(ensure_topics(settings))
    try:
        yield b, settings
    finally:
        b.stop()


def payload(i: int, size: int = 500) -> bytes:
    body = {"specversion": "1.0", "id": str(uuid.UUID(int=i)), "source": "/bench", "type": "bench",
            "time": "2023-01-01T00:00:00Z", "data": {"n": i}}
    raw = json.dumps(body)
    return (raw[:-1] + ', "pad": "' + "x" * max(0, size - len(raw) - 11) + '"}').encode()


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))
