"""Prometheus metrics per service, in a registry of its own (no global default registry).

The registry also has prometheus' standard process metrics (`process_resident_memory_bytes`,
CPU seconds, open files: read from /proc when scraped), so an operator sees a worker's memory
next to its throughput; `pn_rocksdb_memory_bytes` is the part RocksDB counts in its budget."""

from __future__ import annotations

import math
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

CGROUP_LIMIT_FILES = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
UNLIMITED_V1 = 1 << 60  # cgroup v1 writes a huge number (PAGE_COUNTER_MAX) instead of "max"

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ["service", "topic"]
        self.events_in = Counter("pn_events_in", "Messages consumed", labels, registry=self.registry)
        self.events_out = Counter("pn_events_out", "Messages produced", labels, registry=self.registry)
        self.dead_lettered = Counter(
            "pn_events_deadlettered", "Messages sent to pn.deadletter", labels, registry=self.registry)
        self.duplicates = Counter(
            "pn_events_duplicate", "Messages ignored as duplicates (same event id)", labels,
            registry=self.registry)
        self.latency = Histogram(
            "pn_processing_seconds", "Time from the record's timestamp to its outputs being sent",
            ["service"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.lag = Gauge(
            "pn_consumer_lag", "Records behind the partition's end (approximate on the dev broker)",
            ["service", "topic", "partition"], registry=self.registry)
        self.offset = Gauge(
            "pn_consumer_offset", "Offset of the last record processed per partition (an alert "
            "fires when it stops moving while lag remains)", ["service", "topic", "partition"],
            registry=self.registry)
        self.audit_failures = Counter(
            "pn_audit_publish_failures", "Case reads refused because their audit event could not "
            "be stored on pn.audit.reads", ["service"], registry=self.registry)
        self.memory_limit = Gauge(
            "pn_memory_limit_bytes", "The container's memory limit (cgroup memory.max; +Inf when "
            "none), beside process_resident_memory_bytes", ["service"], registry=self.registry)
        self.memory_limit.labels(service).set_function(memory_limit_bytes)
        self.ready = Gauge("pn_ready", "1 when the tables are recovered and no rebalance is under way (as /health)", ["service"],
                           registry=self.registry)
        self.rocksdb_memory = Gauge(
            "pn_rocksdb_memory_bytes", "RocksDB block cache plus the memtables charged to it, of the "
            "worker's one budget (PN_ROCKSDB_MEMORY_MB)", ["service"], registry=self.registry)
        ProcessCollector(registry=self.registry)
        self.service = service

    def render(self) -> bytes:
        return generate_latest(self.registry)


def memory_limit_bytes(files: tuple[Path, ...] = CGROUP_LIMIT_FILES) -> float:
    """The cgroup's memory limit (v2, then v1), +Inf without one: read at each scrape, so the
    "memory near its limit" alert (deploy/prometheus/) needs no setting that could drift."""
    for path in files:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text == "max":
            return math.inf
        try:
            value = int(text)
        except ValueError:
            continue
        return math.inf if value >= UNLIMITED_V1 else float(value)
    return math.inf
