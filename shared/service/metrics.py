"""Prometheus metrics per service, in a registry of its own (no global default registry).

The registry also has prometheus' standard process metrics (`process_resident_memory_bytes`,
CPU seconds, open files: read from /proc when scraped), so an operator sees a worker's memory
next to its throughput; `pn_rocksdb_memory_bytes` is the part RocksDB counts in its budget."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

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
        self.ready = Gauge("pn_ready", "1 when tables are recovered and agents run", ["service"],
                           registry=self.registry)
        self.rocksdb_memory = Gauge(
            "pn_rocksdb_memory_bytes", "RocksDB block cache plus the memtables charged to it, of the "
            "worker's one budget (PN_ROCKSDB_MEMORY_MB)", ["service"], registry=self.registry)
        ProcessCollector(registry=self.registry)
        self.service = service

    def render(self) -> bytes:
        return generate_latest(self.registry)
