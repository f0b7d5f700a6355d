"""Settings from the environment (`PN_` prefix), frozen, read once by `pn` and passed down.

The dev profile (embedded Tansu broker) needs a short session timeout, because Tansu holds a
worker's first JoinGroup for half of it, and idempotence off, because it cannot InitProducerId.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

RETIRED = {
    "PN_ROCKSDB_BLOCK_CACHE_MB": "use PN_ROCKSDB_MEMORY_MB (one RocksDB budget per worker, not per table partition)",
    "PN_BATCH_WITHIN_S": "a stage takes what has arrived, up to PN_BATCH_MAX, without waiting for more "
                         "(shared/runtime/feed.py)",
}
"""Settings that are no longer read, with what replaced them: a worker warns when one is set."""


def retired_in(environ: Mapping[str, str]) -> list[str]:
    """A warning per retired setting present in `environ`."""
    return [f"{name} is no longer read: {instead}" for name, instead in RETIRED.items() if name in environ]


class PnSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PN_", frozen=True, extra="ignore")

    profile: Literal["dev", "prod"] = "dev"
    kafka_bootstrap: str = "127.0.0.1:9092"
    region: str = Field("20", pattern=r"^\d{2}$", description="our county code (20 = Dalarna)")
    data_dir: Path = Path("var/data")
    rules_dir: Path = Path("rules")
    web_host: str = "127.0.0.1"
    web_port: int | None = Field(None, description="default: the service's own port (its spec: 6061-6065)")
    web_advertised_url: str | None = Field(
        None, description="the address the other workers of the service reach this one's views at "
        "(views spread over workers ask each other, shared/runtime/views.py); default "
        "http://<PN_WEB_HOST or, for 0.0.0.0, the host name>:<port>")
    log_format: Literal["console", "json"] | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Broker client tuning; None means "the profile's default".
    session_timeout_s: float | None = None
    enable_idempotence: bool | None = None
    topic_partitions: int = 4
    replication_factor: int = 1
    replay_window_days: int = Field(
        30, ge=1, le=3650, description="how long inputs with personal data or free text (complaints, "
        "letters, notifications, dead letters, internal hops) stay on the log: long enough to rebuild "
        "after an outage (shared/contract/topics.py DEFAULT_REPLAY_WINDOW_DAYS says why); the record is kept")
    batch_max: int = Field(500, ge=1, description="most records per processing batch (a batch is what has arrived)")
    producer_linger_s: float = 0.005
    compression: Literal["none", "gzip", "lz4", "zstd", "snappy"] = Field(
        "zstd", description="compression.type of our own producers (services, `pn publish`, replays); "
        "our consumers read every codec whatever this says. zstd: of batches of 50+ events, ~0.14 of "
        "the JSON's bytes at ~1.5 µs producer and ~0.5 µs consumer CPU per event (bench/compression.py, "
        "bench/RESULTS.md)")
    standby_replicas: int = Field(
        0, ge=0, description="hot copies of each table partition kept by the other workers of a "
        "service (faust's default is 1, Kafka Streams' 0): a copy costs each worker the others' "
        "changelog records; without one, a worker taking over a partition restores it from the "
        "changelog")
    progress_every_s: float = Field(30.0, gt=0, description="how often each processor logs its 'processed' line")
    fetch_max_wait_ms: int | None = Field(
        None, ge=1, le=1500, description="how long a fetch may wait for data; default 10 in the dev "
        "profile (Tansu holds every fetch this long, shared/runtime/app.py), faust's 1500 in prod "
        "(Apache Kafka answers as soon as data is there)")
    hooks_off: str = Field(
        "", description="comma-separated private hooks of faust/aiokafka to leave out (names in "
        "shared/runtime/hooks.py), for measuring what each buys; every one has a public fallback")
    skip_offsets: str = Field(
        "", description="`topic:partition:offset,...`: a worker that cannot read a record batch of "
        "that partition below that offset skips to it instead of stalling the partition "
        "(shared/runtime/stalled.py, docs/runbook.md); set it for a restart, then remove it")
    store: Literal["rocksdb", "memory"] = "rocksdb"
    rocksdb_write_buffer_mb: int = Field(
        4, ge=1, description="RocksDB memtable per table partition (faust's default is 64 MB × 3, "
        "which a burst fills: most of a worker's RSS); all of them together are bounded by "
        "rocksdb_memory_mb")
    rocksdb_memory_mb: int = Field(
        16, ge=4, description="RocksDB memory of the whole worker: one block cache shared by every "
        "table partition, memtables charged to it (shared/runtime/rocksdb_memory.py)")
    malloc_arenas: int = Field(
        2, ge=0, description="most glibc malloc arenas of a worker (0: glibc's default of 8 per core; "
        "shared/runtime/heap.py)")
    malloc_trim_s: float = Field(
        2.0, ge=0, description="how often a worker hands freed heap memory back to the OS (0: never; "
        "shared/runtime/heap.py)")
    store_cache_entries: int = Field(
        20_000, ge=0, description="committed table values each store keeps in memory for reads "
        "(0: every read goes to RocksDB); cleared on a rebalance")
    lag_every_s: float = Field(
        10.0, gt=0, description="how often each worker measures its consumer lag from the broker "
        "(pn_consumer_lag, and the stall check of /health: shared/service/readiness.py)")
    stall_after_s: float = Field(
        120.0, gt=0, description="/health answers 503 `stalled` when a partition has records behind "
        "it and has not moved for this long")
    agent_max_restarts: int = Field(
        5, ge=1, description="failed batches in a row after which a worker exits non-zero (compose "
        "restarts it); before, the agent is restarted with a back-off and /health says agent_crashed")
    exact_highwaters: bool | None = Field(
        None, description="correct the dev broker's low end offsets in faust's table recovery "
        "(shared/runtime/highwaters.py); default on in the dev profile (Tansu), off in prod (Apache Kafka)")
    # Kafka client security: mapped to aiokafka's arguments in shared/kafka/client.py (docs/security.md).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL"] = "PLAINTEXT"
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_sasl_password_file: Path | None = None
    # HTTP API tokens (issue 11): a file of `name:role:salt:hash` lines, or the same lines in env.
    tokens_file: Path | None = None
    tokens: SecretStr | None = None

    @model_validator(mode="after")
    def _profile_defaults(self) -> PnSettings:
        dev = self.profile == "dev"
        object.__setattr__(self, "log_format", self.log_format or ("console" if dev else "json"))
        if self.session_timeout_s is None:
            object.__setattr__(self, "session_timeout_s", 6.0 if dev else 45.0)
        if self.enable_idempotence is None:
            object.__setattr__(self, "enable_idempotence", not dev)
        if self.fetch_max_wait_ms is None and dev:
            object.__setattr__(self, "fetch_max_wait_ms", 10)
        if self.exact_highwaters is None:
            object.__setattr__(self, "exact_highwaters", dev)
        return self


    def data_dir_for(self, service: str) -> Path:
        return self.data_dir / service

    @property
    def hooks_off_names(self) -> tuple[str, ...]:
        return tuple(n.strip() for n in self.hooks_off.split(",") if n.strip())
