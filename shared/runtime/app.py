"""The faust adapter: app factory, tables as `Store`s, thin batch agents, health and metrics views.

Services call `ServiceRuntime(SPEC, settings)` in their `create_app`; their agents.py only
says which topics feed the processor. All faust specifics (the batched feed of fetched records,
shared/runtime/feed.py; tables; worker start) live here and there, so faust can be replaced in one place.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import faust

from shared.contract.topics import Topic
from shared.kafka.client import compression_type, security_kwargs
from shared.runtime import hooks
from shared.runtime.changelog import TableChangelog
from shared.runtime.feed import BatchFeed, as_message
from shared.runtime.publisher import FaustPublisher, SendPublisher
from shared.runtime.rocksdb_memory import MemoryBudget, share_memory
from shared.runtime.stalled import watch as watch_stalled
from shared.service.logging import fix_levels, get_logger
from shared.service.metrics import Metrics
from shared.service.ports import Clock, SystemClock
from shared.service.processor import Handler, Processor
from shared.service.settings import PnSettings
from shared.service.spec import ServiceSpec
from shared.service.state import Store
from shared.service.wiring import attach_seen_store
from shared.web.audit import make_audit_hook
from shared.web.auth import TokenRegistry
from shared.web.gate import WebGate


def faust_credentials(settings: PnSettings) -> Any:
    """The same configuration as faust `broker_credentials` (None for PLAINTEXT)."""
    kwargs = security_kwargs(settings)
    if kwargs["security_protocol"] == "SSL":
        return faust.SSLCredentials(kwargs["ssl_context"])
    if kwargs["security_protocol"] == "SASL_SSL":
        return faust.SASLCredentials(
            username=kwargs["sasl_plain_username"], password=kwargs["sasl_plain_password"],
            ssl_context=kwargs["ssl_context"], mechanism=kwargs["sasl_mechanism"])
    return None


def faust_broker_url(settings: PnSettings) -> str:
    return ";".join(f"kafka://{s.strip()}" for s in settings.kafka_bootstrap.split(",") if s.strip())


def make_faust_app(spec: ServiceSpec, settings: PnSettings) -> faust.App:
    service = spec.name
    dev = settings.profile == "dev"
    settings.data_dir_for(service).parent.mkdir(parents=True, exist_ok=True)
    use = hooks.enabled(settings.hooks_off_names)
    hooks.verify(use)  # before anything is built on faust's internals
    if "read_committed" in use:
        hooks.install_read_committed()
    if settings.fetch_max_wait_ms is not None and "short_fetch_wait" in use:
        hooks.install_fetch_wait(settings.fetch_max_wait_ms)
    if settings.exact_highwaters and "true_highwaters" in use:
        from shared.runtime.highwaters import use_true_highwaters

        use_true_highwaters(settings)
    return faust.App(
        f"pn-{service}",
        broker=faust_broker_url(settings),
        broker_credentials=faust_credentials(settings),
        store="memory://" if settings.store == "memory" else "rocksdb://",
        datadir=str(settings.data_dir_for(service)),
        autodiscover=False,
        key_serializer="json",  # table keys: str; our own topics are declared raw
        value_serializer="json",
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=1.0 if dev else 3.0,
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
        producer_linger=settings.producer_linger_s,
        producer_max_batch_size=262_144,
        producer_max_request_size=4_194_304,
        producer_acks=-1,
        producer_compression_type=compression_type(settings),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.replication_factor,
        web_enabled=True,
        web_host=settings.web_host,
        web_port=spec.web_port(settings),
        web_stats_enabled=False,
        web_router_enabled=False,
        web_tables_enabled=False,
        web_graph_enabled=False,
        web_metrics_enabled=False,
        web_transport=f"tcp://{settings.web_host}:{spec.web_port(settings)}",
        table_standby_replicas=settings.standby_replicas,
        logging_config=None,
    )


class ServiceRuntime:
    """Everything a service's create_app wires: app, stores, processor, agents, web basics."""

    def __init__(self, spec: ServiceSpec, settings: PnSettings, *, clock: Clock | None = None) -> None:
        self.spec = spec
        self.service = service = spec.name
        self.settings = settings
        self.app = make_faust_app(spec, settings)
        self.hooks = hooks.enabled(settings.hooks_off_names)
        self.clock = clock or SystemClock()
        self.metrics = Metrics(service)
        self.stores: dict[str, Store] = {}
        self._rocksdb_budget = (MemoryBudget(settings.rocksdb_memory_mb)
                                if settings.store == "rocksdb" and "rocksdb_memory" in self.hooks else None)
        if self._rocksdb_budget is not None:
            self.metrics.rocksdb_memory.labels(service).set_function(self._rocksdb_budget.usage_bytes)
        self.log = get_logger(service=service)
        self._processor: Processor | None = None
        self._agents = 0
        self._generation: int | None = None
        self._routes: dict[str, dict[str, tuple[Any, Any, Any]]] = {}
        self.gate: WebGate | None = None
        self.stalled = watch_stalled(self.app, service, self.clock, settings.skip_offsets)
        self._add_basic_views()
        self.app.on_after_configured.connect(lambda *a, **k: fix_levels(settings.log_level))

    # -- state ---------------------------------------------------------------------------------
    def store(self, name: str, partitions: int) -> Store:
        """A table with a changelog topic, wrapped as a Store. `partitions` must equal those of
        every topic whose events write it (faust puts the change on the source's partition)."""
        table = self.app.Table(name, default=None, partitions=partitions, options=self._rocksdb_options())
        if self._rocksdb_budget is not None:
            share_memory(table, self._rocksdb_budget)
        changelog = TableChangelog(table) if "changelog" in self.hooks else None  # None: faust writes its own
        store = Store(name, table, changelog=changelog, cache_entries=self.settings.store_cache_entries)
        self.stores[name] = store
        return store

    def _shared_store(self, name: str, partitions: int) -> Store:
        return self.stores[name] if name in self.stores else self.store(name, partitions)

    def _rocksdb_options(self) -> dict[str, int] | None:
        """Memtables per table partition (each partition is its own DB; the block cache and the
        total of memtables are the worker's one budget, shared/runtime/rocksdb_memory.py)."""
        if self.settings.store != "rocksdb":
            return None
        mb = 1024 * 1024
        return {"write_buffer_size": self.settings.rocksdb_write_buffer_mb * mb, "max_write_buffer_number": 2,
                "target_file_size_base": 4 * self.settings.rocksdb_write_buffer_mb * mb}

    # -- processing ----------------------------------------------------------------------------
    def processor(self, handlers: Mapping[str, Handler], deps: Any, *,
                  stores: Sequence[Store] | None = None) -> Processor:
        """The service's Processor over every store created so far (create stores first), or over
        `stores` only: a service with several processors gives each its own stores, because a
        store's staged writes are tagged per processor batch and must be committed by one owner."""
        self._processor = Processor(
            service=self.service, handlers=handlers, deps=deps, publisher=self.publisher(),
            clock=self.clock, stores=list(self.stores.values() if stores is None else stores),
            metrics=self.metrics)
        self._processor.progress.every_s = self.settings.progress_every_s
        return self._processor

    def consume(self, *topics: Topic, processor: Processor | None = None, idempotent: bool = False,
                seen_in: Store | None = None) -> None:
        """Register one agent feeding batches of these topics to the processor (seen ids: see
        shared/service/wiring.py `attach_seen_store`)."""
        proc = processor or self._processor
        if proc is None:
            raise RuntimeError("create the processor before registering agents")
        attach_seen_store(proc, topics, idempotent=idempotent, seen_in=seen_in, shared_store=self._shared_store)
        channel = self.app.topic(*(t.name for t in topics), key_type=bytes, value_type=bytes,
                                 key_serializer="raw", value_serializer="raw",
                                 partitions=topics[0].partitions)
        self._agents += 1
        if "batch_feed" in self.hooks:
            feed = BatchFeed(self.app, [t.name for t in topics], proc, batch_max=self.settings.batch_max,
                             fetch_loop_hook="fetch_loop" in self.hooks,
                             before_batch=self._after_rebalance,
                             on_batch=partial(_record_lag, self.app, self.metrics.lag, self.service,
                                              offsets=self.metrics.offset))

            async def agent(stream: Any) -> None:
                await feed.run(stream)
        else:  # faust's own per-record path: what the feed is measured against
            async def agent(stream: Any) -> None:
                async for event in stream.events():
                    self._after_rebalance()
                    await proc.process_batch([as_message(event.message)], None)
                    _record_lag(self.app, self.metrics.lag, self.service, [event.message],
                                offsets=self.metrics.offset)

        agent.__name__ = f"{self.service}_agent_{self._agents}"
        agent.__qualname__ = agent.__name__
        self.app.agent(channel, name=f"pn-{self.service}.{'+'.join(t.name for t in topics)}")(agent)

    def _after_rebalance(self) -> None:
        """On the first batch of a new consumer generation, every store forgets its cached values:
        partitions may have moved and recovery may have rewritten the tables (faust runs no agent
        during recovery, so the first batch after it is the first reader that matters)."""
        generation = self.app.consumer_generation_id
        if generation != self._generation:
            self._generation = generation
            for store in self.stores.values():
                store.invalidate()

    def tick_every(self, seconds: float) -> None:
        """Publish a `pn.tick` for this service to every partition of `pn.ticks` every `seconds`.
        Consume TICKS in agents.py and handle "pn.tick" (filter on `event.data.service`)."""
        from shared.contract.events import Tick, derive_id, encode, make_event
        from shared.contract.events.envelope import CONTENT_TYPE_HEADER
        from shared.contract.topics import TICKS

        async def tick() -> None:
            now = self.clock.now()
            for partition in range(TICKS.partitions):
                event = make_event(Tick(service=self.service, at=now), source=f"/pn/{self.service}", time=now,
                                   id=derive_id(self.service, "tick", now.isoformat(), partition))
                await self.app.producer.send(TICKS.name, None, encode(event), partition, None, [CONTENT_TYPE_HEADER])

        tick.__name__ = f"{self.service}_tick"
        self.app.timer(seconds)(tick)

    # -- web -----------------------------------------------------------------------------------
    def route(self, method: str, path: str, handler: Any, *, role: str | tuple[str, ...],
              audit: str | None = None) -> None:
        """Register a protected view (see shared/web/gate.py). `audit` names the view in audit events
        when the view reads case data."""
        if self.gate is None:
            self.gate = WebGate(self.service, TokenRegistry.from_settings(self.settings), self._audit_hook())
        methods = self._routes.setdefault(path, {})
        first = not methods
        methods[method.upper()] = (handler, role, audit)
        if first:
            self._register_path(path)

    def _audit_hook(self) -> Any:
        return make_audit_hook(self.service, self.publisher(), self.clock, self.log, self.metrics)

    def publisher(self) -> FaustPublisher:
        """The publisher of this worker: record batches (the `batched_publish` hook) or send() per record."""
        return FaustPublisher(self.app) if "batched_publish" in self.hooks else SendPublisher(self.app)

    def _register_path(self, path: str) -> None:
        routes, gate_of = self._routes[path], (lambda: self.gate)

        async def dispatch(view: Any, request: Any, **params: Any) -> Any:
            entry = routes.get(request.method.upper())
            if entry is None:
                return view.json({"error": "method_not_allowed"}, status=405)
            handler, role, audit = entry
            resp = await gate_of().handle(request, handler, role=role, audit_view=audit, params=params)
            if resp.content is not None:
                return view.bytes(resp.content, content_type=resp.content_type, status=resp.status,
                                  headers=resp.headers or None)
            return view.json(resp.body, status=resp.status, headers=resp.headers or None)

        attrs = {m: dispatch for m in ("get", "post", "put", "delete", "patch")}
        view_cls = type(f"View_{len(self._routes)}", (faust.web.View,), attrs)
        self.app.page(path)(view_cls)

    def _add_basic_views(self) -> None:
        app, metrics, service = self.app, self.metrics, self.service

        @app.page("/health")
        async def health(self_view: Any, request: Any) -> Any:
            ready = bool(app.rebalancing is False and app.tables and _recovered(app)) or not app.tables
            stalled = self.stalled  # partitions the client cannot read past (shared/runtime/stalled.py)
            ready = ready and not stalled
            metrics.ready.labels(service).set(1 if ready else 0)
            body = {"service": service, "status": "ready" if ready else "stalled" if stalled else "recovering"}
            if stalled:
                body["stalled"] = stalled.as_list()
            return self_view.json(body, status=200 if ready else 503)

        @app.page("/metrics")
        async def prom(self_view: Any, request: Any) -> Any:
            ready = bool(app.rebalancing is False and app.tables and _recovered(app)) or not app.tables
            metrics.ready.labels(service).set(1 if ready else 0)  # scraped here, not only on /health
            return self_view.bytes(metrics.render(), content_type="text/plain; version=0.0.4")


def _recovered(app: faust.App) -> bool:
    try:
        return bool(app.tables.recovery.completed.is_set())
    except AttributeError:
        return True


def _record_lag(app: faust.App, gauge: Any, service: str, messages: Sequence[Any], *,
                offsets: Any = None) -> None:
    """Consumer lag per partition after a batch: high watermark − next offset (for /metrics),
    and the last offset processed (the "partition not moving" alert watches it)."""
    last: dict[Any, int] = {}
    for message in messages:
        last[message.tp] = message.offset
    for tp, offset in last.items():
        if offsets is not None:
            offsets.labels(service, tp.topic, str(tp.partition)).set(offset)
        try:
            behind = max(0, app.consumer.highwater(tp) - offset - 1)
        except Exception:  # highwater unknown before the first fetch response
            continue
        gauge.labels(service, tp.topic, str(tp.partition)).set(behind)


def run_worker(app: faust.App, *, log_level: str = "INFO") -> None:
    """Run one worker in the foreground until SIGTERM/SIGINT (used by `pn run`)."""
    from faust.worker import Worker

    # override_logging=False: mode's worker would otherwise replace the root handler that
    # shared/service/logging.py configured (JSON lines in prod) with its own coloured console handler
    worker = Worker(app, loglevel=log_level.lower().replace("warning", "warn"), quiet=True,
                    redirect_stdouts=False, logging_config=None, override_logging=False)
    worker.spinner = None  # its terminal escapes are not log lines (mode dropped it with its logging)
    fix_levels(log_level)
    gc.collect()
    gc.freeze()  # the start-up heap (faust, pydantic models, rules) is not walked by every full collection
    worker.execute_from_commandline()
