"""The faust adapter: app factory, tables as `Store`s, thin batch agents, health and metrics views.

Services call `ServiceRuntime(service, settings)` in their `create_app`; their agents.py only
says which topics feed the processor. All faust specifics (the batched feed of fetched records,
shared/batch_feed.py; tables; worker start) live here and there, so faust can be replaced in one place.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Mapping, Sequence
from functools import partial
from typing import Any

import faust

from .auth import TokenRegistry
from .batch_feed import BatchFeed
from .changelog import TableChangelog
from .consumer import Handler, Processor
from .kafka_client import faust_credentials
from .logging import fix_levels, get_logger
from .metrics import Metrics
from .ports import Clock, SystemClock
from .rocksdb_memory import MemoryBudget, share_memory
from .settings import PnSettings
from .state import Store
from .topics import Topic
from .web import WebGate, WebResponse


def faust_broker_url(settings: PnSettings) -> str:
    return ";".join(f"kafka://{s.strip()}" for s in settings.kafka_bootstrap.split(",") if s.strip())


# faust fixes the consumer's fetch_max_wait_ms at 1500. Apache Kafka answers a fetch as soon as
# data is there; Tansu (dev broker) holds it for the whole wait (measured: a raw aiokafka consumer
# at 100 records/s saw p50 275 ms with 1500, 26 ms with 100, 7 ms with 20; bench/RESULTS.md), so
# each stage of a service would wait that long for data that has arrived. `PN_FETCH_MAX_WAIT_MS`
# (dev profile default 10) makes the workers use a short wait.
_fetch_wait_patched = False


def _use_short_fetch_wait(ms: int) -> None:
    """Make faust's worker consumers use `ms` as fetch_max_wait_ms (process-wide, once)."""
    global _fetch_wait_patched
    if _fetch_wait_patched:
        return
    from faust.transport.drivers import aiokafka as driver

    create = driver.AIOKafkaConsumerThread._create_worker_consumer

    def _create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = create(self, transport)
        consumer._fetch_max_wait_ms = ms  # read by AIOKafkaConsumer.start() when it builds its Fetcher
        return consumer

    driver.AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer
    _fetch_wait_patched = True


def make_faust_app(service: str, settings: PnSettings) -> faust.App:
    dev = settings.profile == "dev"
    if settings.fetch_max_wait_ms is not None:
        _use_short_fetch_wait(settings.fetch_max_wait_ms)
    settings.data_dir_for(service).parent.mkdir(parents=True, exist_ok=True)
    if settings.exact_highwaters:
        from .highwaters import use_true_highwaters

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
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.replication_factor,
        web_enabled=True,
        web_host=settings.web_host,
        web_port=settings.web_port_for(service),
        web_stats_enabled=False,
        web_router_enabled=False,
        web_tables_enabled=False,
        web_graph_enabled=False,
        web_metrics_enabled=False,
        web_transport=f"tcp://{settings.web_host}:{settings.web_port_for(service)}",
        table_standby_replicas=settings.standby_replicas,
        logging_config=None,
    )


class Ack:
    """A record's acknowledgement: where the broker put it."""

    __slots__ = ("partition", "offset")

    def __init__(self, partition: int, offset: int) -> None:
        self.partition, self.offset = partition, offset


class FaustPublisher:
    """`Publisher` over faust's producer client, in record batches: a publish fills one aiokafka
    record batch per partition (`create_batch`/`send_batch`) instead of one `send` per record,
    which costs a future, a metadata lookup and the accumulator's bookkeeping per record
    (bench/RESULTS.md, sixth round). Partitions are chosen by the client's own partitioner, as
    `send` chooses them; a record's offset is its batch's base offset plus its place in it."""

    RETRIES = 8

    def __init__(self, app: faust.App) -> None:
        self._app = app

    def send(self, topic: str, key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]]) -> Awaitable[object]:
        return asyncio.ensure_future(self.publish([(topic, key, value, headers)]))

    async def publish(self, records: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Send every record, then await the acks in order. On a failed ack, everything from
        that record on is sent again, in order, after a back-off: a later version of a key is
        never overtaken by an earlier one (the resent records keep their ids, so a second copy
        is a duplicate the readers skip). After the last attempt the error propagates: the
        Processor rolls the batch back and the worker crashes and replays it."""
        start, results = 0, []
        for attempt in range(self.RETRIES):
            try:
                placed = await self._send(records[start:])
                for future, partition, index in placed:
                    base = await future
                    results.append(Ack(partition, base.offset + index))
                    start += 1
                return results
            except Exception as exc:
                if attempt == self.RETRIES - 1:
                    raise
                get_logger().warning("send_retry", attempt=attempt + 1, error=type(exc).__name__,
                                     unacked=len(records) - start)
                await asyncio.sleep(min(0.1 * 2**attempt, 5.0))
        raise AssertionError("unreachable")

    async def _send(self, records: Sequence[tuple[Any, ...]]) -> list[tuple[Awaitable[Any], int, int]]:
        """Fill and submit record batches; per record (its batch's future, partition, index)."""
        client = self._app.producer._ensure_producer()  # noqa: SLF001 - faust's aiokafka client
        open_batches: dict[tuple[str, int], tuple[Any, list[int]]] = {}  # (topic, partition) → builder, record indexes
        placed: list[Any] = [None] * len(records)
        known: set[str] = set()
        for i, record in enumerate(records):
            topic, key, value, headers = record[0], record[1], record[2], list(record[3])
            if topic not in known:
                await client.client._wait_on_metadata(topic)  # noqa: SLF001 - as send() does
                known.add(topic)
            partition = record[4] if len(record) > 4 and record[4] is not None else \
                client._partition(topic, None, key, value, key, value)  # noqa: SLF001 - send()'s partitioner
            slot = (topic, partition)
            entry = open_batches.get(slot)
            if entry is None:
                entry = open_batches[slot] = (client.create_batch(), [])
            if entry[0].append(key=key, value=value, timestamp=None, headers=headers) is None:
                await self._submit(client, slot, entry, placed)  # full: send it, start the next
                entry = open_batches[slot] = (client.create_batch(), [])
                if entry[0].append(key=key, value=value, timestamp=None, headers=headers) is None:
                    raise ValueError(f"a record of {len(value or b'')} bytes does not fit a record batch")
            entry[1].append(i)
        for slot, entry in open_batches.items():
            await self._submit(client, slot, entry, placed)
        return placed

    @staticmethod
    async def _submit(client: Any, slot: tuple[str, int], entry: tuple[Any, list[int]], placed: list[Any]) -> None:
        builder, indexes = entry
        builder.close()
        future = await client.send_batch(builder, slot[0], partition=slot[1])
        for place, i in enumerate(indexes):
            placed[i] = (future, slot[1], place)


class ServiceRuntime:
    """Everything a service's create_app wires: app, stores, processor, agents, web basics."""

    def __init__(self, service: str, settings: PnSettings, *, clock: Clock | None = None) -> None:
        self.service = service
        self.settings = settings
        self.app = make_faust_app(service, settings)
        self.app.pn_runtime = self  # shared/openapi.py documents a built app's routes
        self.clock = clock or SystemClock()
        self.metrics = Metrics(service)
        self.stores: dict[str, Store] = {}
        self._rocksdb_budget = MemoryBudget(settings.rocksdb_memory_mb) if settings.store == "rocksdb" else None
        if self._rocksdb_budget is not None:
            self.metrics.rocksdb_memory.labels(service).set_function(self._rocksdb_budget.usage_bytes)
        self.log = get_logger(service=service)
        self._processor: Processor | None = None
        self._agents = 0
        self._generation: int | None = None
        self._routes: dict[str, dict[str, tuple[Any, Any, Any]]] = {}
        self.gate: WebGate | None = None
        self.docs: dict[tuple[str, str], tuple[Any, Any, Any, Any]] = {}
        self._add_basic_views()
        self._protect_root()
        self.app.on_after_configured.connect(lambda *a, **k: fix_levels(settings.log_level))

    # -- state ---------------------------------------------------------------------------------
    def store(self, name: str, partitions: int) -> Store:
        """A table with a changelog topic, wrapped as a Store. `partitions` must equal those of
        every topic whose events write it (faust puts the change on the source's partition)."""
        table = self.app.Table(name, default=None, partitions=partitions, options=self._rocksdb_options())
        if self._rocksdb_budget is not None:
            share_memory(table, self._rocksdb_budget)
        store = Store(name, table, changelog=TableChangelog(table), cache_entries=self.settings.store_cache_entries)
        self.stores[name] = store
        return store

    def _rocksdb_options(self) -> dict[str, int] | None:
        """Memtables per table partition (each partition is its own DB; the block cache and the
        total of memtables are the worker's one budget, shared/rocksdb_memory.py)."""
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
            service=self.service, handlers=handlers, deps=deps, publisher=FaustPublisher(self.app),
            clock=self.clock, stores=list(self.stores.values() if stores is None else stores),
            metrics=self.metrics)
        self._processor.progress.every_s = self.settings.progress_every_s
        return self._processor

    def consume(self, *topics: Topic, processor: Processor | None = None, idempotent: bool = False,
                seen_in: Store | None = None) -> None:
        """Register one agent feeding batches of these topics to the processor.

        `idempotent=True`: the handlers of these topics make a second delivery of an event a
        no-op by their own state (see Processor.use_seen_store): no seen-id write per event.
        `seen_in=store`: keep the seen ids in the processor's own (single) store instead of the
        shared seen store. Both then share one changelog partition, where an id comes after the
        writes of the event it marks: a kill -9 during a batch's publish can keep the writes
        without the id (the event is done again) but never the id without the writes (the event
        would be skipped with its effect lost). For handlers whose facts are "the latest value"."""
        proc = processor or self._processor
        if proc is None:
            raise RuntimeError("create the processor before registering agents")
        partitions = {t.partitions for t in topics}
        if len(partitions) != 1:
            raise ValueError("topics consumed by one agent must have the same partition count")
        if idempotent:
            proc.use_seen_store(topics, None)
        elif seen_in is not None:
            proc.use_seen_store(topics, seen_in)
        else:
            seen_name = f"seen-p{topics[0].partitions}"
            seen = self.stores[seen_name] if seen_name in self.stores else self.store(seen_name, topics[0].partitions)
            proc.use_seen_store(topics, seen)
        channel = self.app.topic(*(t.name for t in topics), key_type=bytes, value_type=bytes,
                                 key_serializer="raw", value_serializer="raw",
                                 partitions=topics[0].partitions)
        self._agents += 1
        feed = BatchFeed(self.app, [t.name for t in topics], proc, batch_max=self.settings.batch_max,
                         before_batch=self._after_rebalance,
                         on_batch=partial(_record_lag, self.app, self.metrics.lag, self.service))

        async def agent(stream: Any) -> None:
            await feed.run(stream)

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
        from .events import Tick, derive_id, encode, make_event
        from .events.envelope import CONTENT_TYPE_HEADER
        from .topics import TICKS

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
              audit: str | None = None, doc: Any = None) -> None:
        """Register a protected view (see shared/web.py). `audit` names the view in audit events
        when the view reads case data; `doc` (shared.openapi.ViewDoc) describes it in the
        service's OpenAPI document (`/openapi.json`)."""
        self._gate()  # at start-up: a malformed token file stops the service here
        methods = self._routes.setdefault(path, {})
        first = not methods
        methods[method.upper()] = (handler, role, audit)
        self.docs[(method.upper(), path)] = (handler, role, audit, doc)
        if first:
            self._register_path(path)

    def _protect_root(self) -> None:
        """faust's production index page answers `/` with 200 to anyone: drop that blueprint
        (faust-streaming 0.15 keeps the list in `web.blueprints._enabled` until the server
        starts) and serve `/` through the gate instead: 401 without a token, else 404."""
        blueprints = self.app.web.blueprints
        blueprints._enabled = [(prefix, bp) for prefix, bp in blueprints._enabled
                               if "production_index" not in str(getattr(bp, "name", bp))]
        self._routes["/"] = {}
        self._register_path("/")

    def _gate(self) -> WebGate:
        if self.gate is None:
            self.gate = WebGate(self.service, TokenRegistry.from_settings(self.settings), self._audit_hook())
        return self.gate

    def _audit_hook(self) -> Any:
        from .audit import make_audit_hook  # issue 11: audit events on pn.audit

        return make_audit_hook(self)

    def _register_path(self, path: str) -> None:
        routes, gate_of = self._routes[path], self._gate

        async def dispatch(view: Any, request: Any, **params: Any) -> Any:
            from shared.web import as_problem, problem

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
            handler, role, audit = entry
            return _respond(view, as_problem(await gate.handle(request, handler, role=role, audit_view=audit,
                                                         params=params, template=path)))

        attrs = {m: dispatch for m in ("head", "get", "post", "put", "delete", "patch", "options")}
        view_cls = type(f"View_{len(self._routes)}", (faust.web.View,), attrs)
        self.app.page(path)(view_cls)

    def _add_basic_views(self) -> None:
        app, metrics, service = self.app, self.metrics, self.service

        @app.page("/health")
        async def health(self_view: Any, request: Any) -> Any:
            ready = bool(app.rebalancing is False and app.tables and _recovered(app)) or not app.tables
            metrics.ready.labels(service).set(1 if ready else 0)
            body = {"service": service, "status": "ready" if ready else "recovering"}
            return self_view.json(body, status=200 if ready else 503)

        @app.page("/metrics")
        async def prom(self_view: Any, request: Any) -> Any:
            return self_view.bytes(metrics.render(), content_type="text/plain; version=0.0.4")

        runtime = self

        @app.page("/openapi.json")
        async def openapi(self_view: Any, request: Any) -> Any:
            from shared.openapi import openapi_document

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


def _recovered(app: faust.App) -> bool:
    try:
        return bool(app.tables.recovery.completed.is_set())
    except AttributeError:
        return True


def _record_lag(app: faust.App, gauge: Any, service: str, messages: Sequence[Any]) -> None:
    """Consumer lag per partition after a batch: high watermark − next offset (for /metrics)."""
    last: dict[Any, int] = {}
    for message in messages:
        last[message.tp] = message.offset
    for tp, offset in last.items():
        try:
            behind = max(0, app.consumer.highwater(tp) - offset - 1)
        except Exception:  # highwater unknown before the first fetch response
            continue
        gauge.labels(service, tp.topic, str(tp.partition)).set(behind)


def run_worker(app: faust.App, *, log_level: str = "INFO") -> None:
    """Run one worker in the foreground until SIGTERM/SIGINT (used by `pn run`)."""
    from faust.worker import Worker

    worker = Worker(app, loglevel=log_level.lower().replace("warning", "warn"), quiet=True,
                    redirect_stdouts=False, logging_config=None)
    fix_levels(log_level)
    gc.collect()
    gc.freeze()  # the start-up heap (faust, pydantic models, rules) is not walked by every full collection
    worker.execute_from_commandline()
