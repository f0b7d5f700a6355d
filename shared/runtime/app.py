"""The faust adapter: app factory, tables as `Store`s, thin batch agents, health and metrics views.

Services call `ServiceRuntime(SPEC, settings)` in their `create_app`; their agents.py only
says which topics feed the processor. All faust specifics (the batched feed of fetched records,
shared/runtime/feed.py; tables; worker start) live here and there, so faust can be replaced in one place.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import faust

from shared.contract.topics import Topic
from shared.kafka.client import compression_type, security_kwargs
from shared.runtime import hooks
from shared.runtime.changelog import TableChangelog
from shared.runtime.feed import BatchFeed, as_message
from shared.runtime.global_store import GlobalChangelog, Replica, ReplicaView, follow
from shared.runtime.publisher import FaustPublisher, SendPublisher
from shared.runtime.rocksdb_memory import MemoryBudget, share_memory
from shared.runtime.stalled import watch as watch_stalled
from shared.runtime.views import (
    ALL,
    ANY,
    GENERATION_HEADER,
    LOCAL,
    PEER_HEADER,
    SPREADS,
    ask_peers,
    peer_urls,
    unavailable,
)
from shared.runtime.views import first_found as _first_found
from shared.runtime.views import merged as _merged
from shared.service.logging import fix_levels, get_logger
from shared.service.metrics import Metrics
from shared.service.ports import Clock, SystemClock
from shared.service.processor import Handler, Processor
from shared.service.readiness import Readiness
from shared.service.settings import PnSettings
from shared.service.spec import ServiceSpec
from shared.service.state import Store
from shared.service.wiring import attach_seen_store
from shared.web.audit import make_audit_hook
from shared.web.auth import TokenRegistry
from shared.web.gate import WebGate, WebResponse, as_problem, problem


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


def advertised_url(settings: PnSettings, port: int) -> str:
    """Where the other workers of the service reach this one's views (faust's canonical_url,
    which its assignor hands every member): PN_WEB_ADVERTISED_URL, else the web host and port,
    with a wildcard host (compose's 0.0.0.0) replaced by this host's name."""
    if settings.web_advertised_url:
        return settings.web_advertised_url
    host = settings.web_host
    if host in ("0.0.0.0", "::", ""):
        import socket

        host = socket.gethostname()
    return f"http://{host}:{port}"


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
        canonical_url=advertised_url(settings, spec.web_port(settings)),
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
        self.app.pn_runtime = self  # shared/web/openapi.py documents a built app's routes
        self.hooks = hooks.enabled(settings.hooks_off_names)
        self.clock = clock or SystemClock()
        self.metrics = Metrics(service)
        self.stores: dict[str, Store] = {}
        self.replicas: dict[str, Replica] = {}
        """The global stores' replicas by store name (shared/runtime/global_store.py)."""
        self._rocksdb_budget = (MemoryBudget(settings.rocksdb_memory_mb)
                                if settings.store == "rocksdb" and "rocksdb_memory" in self.hooks else None)
        if self._rocksdb_budget is not None:
            self.metrics.rocksdb_memory.labels(service).set_function(self._rocksdb_budget.usage_bytes)
        self.log = get_logger(service=service)
        self._processor: Processor | None = None
        self._agents = 0
        self._generation: int | None = None
        self._routes: dict[str, dict[str, tuple[Any, ...]]] = {}
        self.gate: WebGate | None = None
        self.docs: dict[tuple[str, str], tuple[Any, Any, Any, Any]] = {}
        self.readiness = Readiness(stall_after_s=settings.stall_after_s)
        """What /health answers (shared/service/readiness.py); other modules plug checks in with add_check."""
        self._fed: set[str] = set()
        self.stalled = watch_stalled(self.app, service, self.clock, settings.skip_offsets)
        self.readiness.add_check("stalled", self.stalled.reason)  # batches the client cannot read
        self._add_basic_views()
        self._protect_root()
        self.app.timer(settings.lag_every_s)(self._measure_lag)
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

    def global_store(self, name: str, topic: Topic) -> Store:
        """A store every worker of the service holds in full (all partitions), kept up to date
        continuously: for reference data every partition needs (shared/runtime/global_store.py).
        Written only by the processor that consumes `topic` (the change goes on the partition of
        the message that made it, as for any store); read by any processor or view of any worker.
        Another worker sees a write one fetch after it is acknowledged; a worker's agents start
        only once its global stores have read their changelog to the end."""
        table = self.app.Table(name, default=None, partitions=topic.partitions, options=self._rocksdb_options())
        if self._rocksdb_budget is not None:
            share_memory(table, self._rocksdb_budget)
        replica = self.replicas[name] = Replica(name, topic.partitions)
        changelog = GlobalChangelog(TableChangelog(table), replica) if "changelog" in self.hooks else None
        store = Store(name, ReplicaView(replica, table), changelog=changelog, cache_entries=0)
        self.stores[name] = store
        self.readiness.add_check(f"global_store:{name}", replica.loading_reason)
        settings, log = self.settings, self.log

        async def follow_changelog() -> None:
            await follow(replica, table.changelog_topic.get_topic_name(), settings, log)

        follow_changelog.__name__ = f"{self.service}_global_{name}"
        self.app.task(follow_changelog)
        return store

    async def _globals_loaded(self) -> None:
        """Agents wait here before their first batch: every global store read to its end."""
        for replica in self.replicas.values():
            await replica.wait_caught_up()

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
        """Register one agent feeding batches of these topics to the processor (seen ids and the
        guard of reused ids: shared/service/wiring.py `attach_seen_store`)."""
        proc = processor or self._processor
        if proc is None:
            raise RuntimeError("create the processor before registering agents")
        attach_seen_store(proc, topics, idempotent=idempotent, seen_in=seen_in, stores=self.stores,
                          new_store=self.store)
        channel = self.app.topic(*(t.name for t in topics), key_type=bytes, value_type=bytes,
                                 key_serializer="raw", value_serializer="raw",
                                 partitions=topics[0].partitions)
        self._agents += 1
        name = f"pn-{self.service}.{'+'.join(t.name for t in topics)}"
        self._fed.update(t.name for t in topics)
        readiness = self.readiness
        lag = partial(_record_lag, self.app, self.metrics.lag, self.service, offsets=self.metrics.offset)

        def on_batch(batch: Sequence[Any]) -> None:
            readiness.agent_ok(name)
            for m in batch:
                readiness.processed(m.topic, m.partition, m.offset)
            lag(batch)

        if "batch_feed" in self.hooks:
            feed = BatchFeed(self.app, [t.name for t in topics], proc, batch_max=self.settings.batch_max,
                             fetch_loop_hook="fetch_loop" in self.hooks,
                             before_batch=self._after_rebalance, on_batch=on_batch,
                             wait_for=self._globals_loaded)
            supervised = partial(self._supervised, name, feed)

            async def agent(stream: Any) -> None:
                await supervised(stream)
        else:  # faust's own per-record path: what the feed is measured against
            async def agent(stream: Any) -> None:
                await self._globals_loaded()
                async for event in stream.events():
                    self._after_rebalance()
                    await proc.process_batch([as_message(event.message)], None)
                    on_batch([event.message])

        agent.__name__ = f"{self.service}_agent_{self._agents}"
        agent.__qualname__ = agent.__name__
        self.app.agent(channel, name=name)(agent)

    async def _supervised(self, name: str, feed: BatchFeed, stream: Any) -> None:
        """Run the feed; a batch that raises (its outputs could not be published after the
        publisher's retries, or a bug) is never silent: /health says agent_crashed, the feed is
        run again after a back-off (the failed batch is taken again), and after
        `PN_AGENT_MAX_RESTARTS` failures in a row the process exits non-zero, so its supervisor
        (compose, systemd, `pn up`) restarts it and an operator sees the restarts (issue 22).
        faust's own agent supervisor would restart it without a trace in /health."""
        while True:
            try:
                await feed.run(stream)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures = self.readiness.agent_crashed(name, exc)
                self.metrics.ready.labels(self.service).set(0)
                self.log.error("agent_crashed", agent=name, error=type(exc).__name__, failures=failures,
                               max_restarts=self.settings.agent_max_restarts)
                if failures >= self.settings.agent_max_restarts:
                    self.log.critical("agent_gave_up", agent=name, failures=failures, exit_code=EXIT_AGENT_FAILED)
                    _exit(EXIT_AGENT_FAILED)
                await asyncio.sleep(min(0.5 * 2 ** (failures - 1), 30.0))

    async def _measure_lag(self) -> None:
        """Lag of the fed partitions from the broker's end offsets, on a timer (not only after a
        processed batch, which a stopped partition never has): for pn_consumer_lag and the stall
        check of /health. The end is the larger of the broker's answer (ListOffsets; on the dev
        broker corrected by PN_EXACT_HIGHWATERS) and the last fetch response's high watermark."""
        app = self.app
        if app.rebalancing or not _recovered(app):
            self.readiness.flow_paused()
            return
        try:
            tps = [tp for tp in app.consumer.assignment() if tp.topic in self._fed]
            ends = await _end_offsets(app, tps) if tps else {}
        except Exception as exc:  # broker unreachable or consumer not started: measured next time
            self.log.warning("lag_unmeasured", error=type(exc).__name__)
            return
        measured, positions = {}, {}
        committed = getattr(app.consumer, "_committed_offset", {})  # faust's record of its commits
        for tp in tps:
            candidates = [ends.get(tp)]
            try:
                candidates.append(app.consumer.highwater(tp))
            except Exception:  # noqa: BLE001 - no fetch answer yet
                pass
            known = [e for e in candidates if isinstance(e, int) and e >= 0]
            if known:
                measured[(tp.topic, tp.partition)] = max(known)
                positions[(tp.topic, tp.partition)] = committed.get(tp)
        self.readiness.measured(measured, positions)
        for (topic, partition), behind in self.readiness.lag().items():
            self.metrics.lag.labels(self.service, topic, str(partition)).set(behind)
        self.metrics.ready.labels(self.service).set(1 if self._verdict().ready else 0)

    def _verdict(self) -> Any:
        app = self.app
        recovering = bool(app.tables) and not (app.rebalancing is False and _recovered(app))
        return self.readiness.verdict(recovering=recovering)

    def _after_rebalance(self) -> None:
        """On the first batch of a new consumer generation, every store forgets its cached values:
        partitions may have moved and recovery may have rewritten the tables (faust runs no agent
        during recovery, so the first batch after it is the first reader that matters)."""
        generation = self.app.consumer_generation_id
        if generation != self._generation:
            self._generation = generation
            for store in self.stores.values():
                store.invalidate()
            for replica in self.replicas.values():
                replica.forget_unstamped()

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
              audit: str | None = None, doc: Any = None, spread: str = LOCAL,
              merge: Callable[[list[Any]], Any] | None = None) -> None:
        """Register a protected view (see shared/web/gate.py). `audit` names the view in audit events
        when the view reads case data; `doc` (shared.web.openapi.ViewDoc) describes it in the
        service's OpenAPI document (`/openapi.json`). `spread` says where the answer comes from with
        several workers (shared/runtime/views.py): `local` (this worker's answer is whole: a global
        store, the topics, a POST), `any` (a lookup: on a local 404 the other workers are asked),
        `all` (an aggregate: every worker's answer, combined by `merge(bodies)`)."""
        if spread not in SPREADS:
            raise ValueError(f"spread must be one of {SPREADS}")
        if spread != LOCAL and method.upper() != "GET":
            raise ValueError("only GET views are spread over the workers")
        if (spread == ALL) != (merge is not None):
            raise ValueError("spread='all' needs merge, and only it")
        self._gate()  # at start-up: a malformed token file stops the service here
        methods = self._routes.setdefault(path, {})
        first = not methods
        methods[method.upper()] = (handler, role, audit, spread, merge)
        self.docs[(method.upper(), path)] = (handler, role, audit, doc)
        if first:
            self._register_path(path)

    def _protect_root(self) -> None:
        """faust's production index page answers `/` with 200 to anyone: drop that blueprint (the
        `web_blueprints` hook, shared/runtime/hooks.py) and serve `/` through the gate instead: 401
        without a token, else 404."""
        hooks.drop_blueprints(self.app, "production_index")
        self._routes["/"] = {}
        self._register_path("/")

    def _gate(self) -> WebGate:
        if self.gate is None:
            self.gate = WebGate(self.service, TokenRegistry.from_settings(self.settings), self._audit_hook())
        return self.gate

    def _audit_hook(self) -> Any:
        return make_audit_hook(self.service, self.publisher(), self.clock, self.log, self.metrics)

    def publisher(self) -> FaustPublisher:
        """The publisher of this worker: record batches (the `batched_publish` hook) or send() per record."""
        return FaustPublisher(self.app) if "batched_publish" in self.hooks else SendPublisher(self.app)

    def _register_path(self, path: str) -> None:
        routes, gate_of = self._routes[path], self._gate

        async def dispatch(view: Any, request: Any, **params: Any) -> Any:
            gate = gate_of()
            refused = gate.unauthenticated(request)  # 401 before 404/405: no token, no map of the API
            if refused is not None:
                return _respond(view, refused)
            method = request.method.upper()
            entry = routes.get("GET" if method == "HEAD" else method)
            if entry is None:
                if not routes:
                    return _respond(view, problem(404, "not_found", "no such view"))
                return _respond(view, problem(405, "method_not_allowed", f"allowed: {', '.join(sorted(routes))}",
                                              headers={"Allow": ", ".join(sorted(routes))}))
            handler, role, audit, spread, merge = entry
            if spread != LOCAL:
                handler = self._spread(handler, request, spread, merge)
            resp = as_problem(await gate.handle(request, handler, role=role, audit_view=audit,
                                                params=params, template=path))
            if spread != LOCAL:
                resp.headers = {**(resp.headers or {}), GENERATION_HEADER: str(self.app.consumer_generation_id)}
            return _respond(view, resp)

        attrs = {m: dispatch for m in ("head", "get", "post", "put", "delete", "patch", "options")}
        view_cls = type(f"View_{len(self._routes)}", (faust.web.View,), attrs)
        self.app.page(path)(view_cls)

    def _spread(self, handler: Any, request: Any, spread: str, merge: Any) -> Any:
        """The view's handler, completed by the other workers' answers (shared/runtime/views.py).
        A peer's request (`pn-peer`) is answered from this worker's data only; a worker that
        is rebalancing or restoring tables answers 503, so it is never taken for a complete one."""
        app = self.app
        peer = PEER_HEADER in request.headers

        async def spread_handler(req: Any) -> Any:
            if app.rebalancing or not _recovered(app):
                return unavailable("this worker is taking over partitions; retry")
            result = await handler(req)
            if peer:
                return result
            local = result if isinstance(result, WebResponse) else WebResponse(200, result)
            if spread == ANY and local.status != 404:
                return local
            if spread == ALL and local.status not in (200, 404):  # 404: this worker's part is empty
                return local
            urls = peer_urls(app)
            answers = await ask_peers(app, urls, request.path_qs, request.headers) if urls else []
            if spread == ANY:
                return _first_found(local, answers)
            return _merged(local.body, app.consumer_generation_id, answers, merge, local_found=local.status == 200)

        return spread_handler

    def _add_basic_views(self) -> None:
        app, metrics, service = self.app, self.metrics, self.service

        @app.page("/health")
        async def health(self_view: Any, request: Any) -> Any:
            verdict = self._verdict()  # shared/service/readiness.py; docs/runbook.md says what each status means
            metrics.ready.labels(service).set(1 if verdict.ready else 0)
            body = verdict.body(service)
            if self.stalled:  # partitions the client cannot read past (shared/runtime/stalled.py)
                body["stalled"] = self.stalled.as_list()
            return self_view.json(body, status=200 if verdict.ready else 503)

        @app.page("/metrics")
        async def prom(self_view: Any, request: Any) -> Any:
            ready = self._verdict().ready  # the same verdict as /health (shared/service/readiness.py)
            metrics.ready.labels(service).set(1 if ready else 0)  # scraped here, not only on /health
            return self_view.bytes(metrics.render(), content_type="text/plain; version=0.0.4")

        runtime = self

        @app.page("/openapi.json")
        async def openapi(self_view: Any, request: Any) -> Any:
            from shared.web.openapi import openapi_document

            return self_view.json(openapi_document(runtime))


def _respond(view: Any, resp: WebResponse) -> Any:
    """The aiohttp response of a gate's answer. JSON through faust's encoder (Decimal, datetime);
    bytes with their content type, which may carry a charset (`text/csv; charset=utf-8`): aiohttp
    takes that only as its own argument (passing it whole gave 500 for the report's html and csv)."""
    from aiohttp import web

    if resp.content is not None:
        ctype, _, rest = resp.content_type.partition(";")
        charset = rest.strip().partition("=")[2].strip() or None
        return web.Response(body=resp.content, status=resp.status, headers=resp.headers or None,
                            content_type=ctype.strip(), charset=charset)
    return view.json(resp.body, content_type=resp.content_type, status=resp.status, headers=resp.headers or None)


async def _end_offsets(app: faust.App, tps: Sequence[Any]) -> Mapping[Any, int]:
    """The broker's end offsets (ListOffsets) through faust's consumer thread, not through
    `consumer.highwaters`, which PN_EXACT_HIGHWATERS makes read the partitions with a consumer
    of its own (~1 s a call here): too dear for a timer. On the dev broker this reads low by up
    to a batch; the caller takes the larger of it and the fetched high watermark."""
    thread = app.consumer._thread  # noqa: SLF001 - faust's consumer thread owns the aiokafka client
    client = thread._ensure_consumer()  # noqa: SLF001
    return await thread.call_thread(client.end_offsets, list(tps))


EXIT_AGENT_FAILED = 70
"""Exit status of a worker whose agent failed PN_AGENT_MAX_RESTARTS batches in a row (EX_SOFTWARE)."""


def _exit(code: int) -> None:
    """Leave now, with `code`: a clean shutdown would wait for the failed batch's records, which
    are still unacknowledged. Committed offsets and changelogs make this as safe as kill -9."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - nothing more to do
            pass
    os._exit(code)


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
