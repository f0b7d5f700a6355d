"""Every use of faust's, aiokafka's and faust's RocksDB store's private parts, checked and installed here.

Speed needed some of their internals (bench/RESULTS.md, "Private hooks" for each one's measured
gain). They are not an API: a minor release may rename or reshape them without notice. So:
- the versions they were written against are pinned (pyproject.toml) and checked at start-up;
- every private attribute a hook reads or replaces is listed below with its expected shape
  (parameter names of a callable, or the class whose source assigns an instance attribute);
- `verify()` runs before a worker builds its app and stops it with `HookMismatch`, one message
  naming everything that changed, instead of a worker that fails on its first record, or worse,
  runs on with a patch that no longer means what it did;
- the patches themselves (methods replaced on faust's classes) are installed only by this
  module's `install_*` functions; the modules that implement them (fetch_loop.py, feed.py,
  changelog.py, rocksdb_memory.py, highwaters.py, app.py's publisher) never assign to faust.

`PN_HOOKS_OFF` (comma-separated hook names) turns hooks off, for measuring what each one buys;
every hook has a public-API fallback, so the platform runs correctly with all of them off.
`tests/unit/shared/test_hooks.py` runs `verify()` against the installed libraries.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Any

PINNED = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0", "rocksdict": "0.3.29"}
"""The releases every hook below was written against and measured on."""


class HookMismatch(RuntimeError):
    """An installed library no longer has the shape a hook needs."""


@dataclass(frozen=True)
class Private:
    """One private attribute a hook uses. `params`: the parameter names a callable must have
    (after self); None for an attribute that a class in `owner`'s MRO must assign or declare."""

    owner: str  # "module:Class" or "module" for a module attribute
    name: str
    params: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Hook:
    name: str
    why: str
    privates: tuple[Private, ...]


CONSUMER = "faust.transport.consumer:Consumer"
CONDUCTOR = "faust.transport.conductor:Conductor"
CONSUMER_THREAD = "faust.transport.drivers.aiokafka:AIOKafkaConsumerThread"
ROCKSDB_STORE = "faust.stores.rocksdb:Store"
PRODUCER = "aiokafka:AIOKafkaProducer"
CLIENT = "aiokafka.client:AIOKafkaClient"

HOOKS: dict[str, Hook] = {h.name: h for h in (
    Hook("batch_feed", "fetched records handed to the Processor in lists, not through faust's "
         "per-record conductor queue and Stream (shared/runtime/feed.py)", (
             Private(CONDUCTOR, "_build_handler", ("tp", "channels")),
             Private("faust.streams", "_current_event"),
         )),
    Hook("fetch_loop", "the fetcher appends records of fed topics to their feed in line, without "
         "faust's four tasks per record (shared/runtime/fetch_loop.py)", (
             Private(CONSUMER, "_drain_messages", ("fetcher",)),
             Private(CONSUMER, "_add_gap", ("tp", "offset_from", "offset_to")),
             Private(CONSUMER, "_read_offset"),
             Private(CONSUMER, "_commit_every"),
             Private(CONSUMER, "_n_acked"),
             Private(CONSUMER, "_stopped"),
             Private("faust.transport.consumer", "CONSUMER_FETCHING"),
         )),
    Hook("short_fetch_wait", "the worker consumers' fetch_max_wait_ms from PN_FETCH_MAX_WAIT_MS "
         "(faust fixes 1500 ms; Tansu holds every fetch that long)", (
             Private(CONSUMER_THREAD, "_create_worker_consumer", ("transport",)),
             Private("aiokafka:AIOKafkaConsumer", "_fetch_max_wait_ms"),
         )),
    Hook("read_committed", "faust's worker consumers read committed records only, so an upstream's "
         "aborted transaction never takes effect (faust reads uncommitted unless it is transactional "
         "itself); correctness, not speed", (
             Private(CONSUMER_THREAD, "_create_worker_consumer", ("transport",)),
             Private("aiokafka:AIOKafkaConsumer", "_isolation_level"),
         )),
    Hook("unreadable_batch", "a record batch the client cannot unpack (corrupt, unknown codec) stalls "
         "its partition only, reported, instead of crashing the worker in a loop and losing other "
         "partitions' records (shared/runtime/fetch_loop.py `_getall`, `stall`; installed with "
         "fetch_loop)", (
             Private("aiokafka.consumer.fetcher:FetchResult", "getall", ("max_records",)),
             Private("aiokafka.consumer.fetcher:FetchResult", "check_assignment", ("tp",)),
             Private("aiokafka.consumer.fetcher:FetchResult", "has_more", ()),
             Private("aiokafka.consumer.fetcher:FetchResult", "_update_position", ()),
             Private("aiokafka.consumer.fetcher:FetchResult", "_partition_records"),
             Private("aiokafka.consumer.fetcher:FetchResult", "_topic_partition"),
             Private(CONSUMER, "_new_topicpartition", ("topic", "partition")),
             Private(CONSUMER, "_seek", ("partition", "offset")),
             Private(CONSUMER_THREAD, "_ensure_consumer", ()),
         )),
    Hook("true_highwaters", "table recovery reads to the true end of a changelog on the dev "
         "broker (PN_EXACT_HIGHWATERS, opt-in; shared/runtime/highwaters.py)", (
             Private(CONSUMER_THREAD, "_highwaters", ("partitions",)),
         )),
    Hook("changelog", "a batch's table changes published with its outputs and read straight from "
         "RocksDB (shared/runtime/changelog.py)", (
             Private(ROCKSDB_STORE, "_get", ("key",)),
             Private(ROCKSDB_STORE, "_set", ("key", "value")),
             Private(ROCKSDB_STORE, "_del", ("key",)),
             Private(ROCKSDB_STORE, "_db_for_partition", ("partition",)),
             Private(ROCKSDB_STORE, "_encode_key", ("key",)),
             Private(ROCKSDB_STORE, "_encode_value", ("value",)),
             Private(ROCKSDB_STORE, "_decode_value", ("value",)),
             Private(ROCKSDB_STORE, "_dbs"),
             Private(ROCKSDB_STORE, "_key_index"),
         )),
    Hook("rocksdb_memory", "one RocksDB memory budget per worker instead of a cache per table "
         "partition (shared/runtime/rocksdb_memory.py)", (
             Private(ROCKSDB_STORE, "rocksdb_options"),
         )),
    Hook("batched_publish", "outputs appended to one record batch per partition instead of a "
         "send() per record (shared/runtime/publisher.py)", (
             Private("faust.transport.drivers.aiokafka:Producer", "_ensure_producer", ()),
             Private(CLIENT, "_wait_on_metadata", ("topic",)),
             Private(PRODUCER, "_partition", ("topic", "partition", "key", "value",
                                              "serialized_key", "serialized_value")),
         )),
    Hook("broker_lag", "lag measured from the broker's end offsets on a timer, through faust's "
         "consumer thread (ListOffsets, not faust's highwaters, which PN_EXACT_HIGHWATERS makes read "
         "the partitions), and faust's record of its commits (shared/runtime/app.py `_measure_lag`); "
         "/health's stall check needs it", (
             Private("faust.transport.drivers.aiokafka:Consumer", "_thread"),
             Private(CONSUMER_THREAD, "_ensure_consumer", ()),
             Private(CONSUMER, "_committed_offset"),
         )),
    Hook("web_blueprints", "faust's production index page answers `/` with 200 to anyone: it is "
         "dropped before the server starts, so `/` goes through the gate (401 without a token)", (
             Private("faust.web.base:BlueprintManager", "_enabled"),
         )),
    Hook("metadata_refresh", "tools wait for a new topic's partitions (aiokafka has no public "
         "call to refresh metadata; shared/kafka/io.py `refresh_metadata`, used by the tools)", (
             Private(CLIENT, "force_metadata_update", ()),
         )),
)}


def _resolve(owner: str) -> Any:
    module_name, _, attr = owner.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr) if attr else module


@cache
def _source(cls: type) -> str:
    try:
        return inspect.getsource(cls)
    except (OSError, TypeError):
        return ""


def _problem(private: Private) -> str | None:
    """What is wrong with one private attribute, or None."""
    where = f"{private.owner.replace(':', '.')}.{private.name}"
    try:
        owner = _resolve(private.owner)
    except (ImportError, AttributeError) as exc:
        return f"{private.owner.replace(':', '.')} is gone ({type(exc).__name__})"
    if private.params is not None:
        target = getattr(owner, private.name, None)
        if target is None or not callable(target):
            return f"{where} is gone"
        params = tuple(p for p in inspect.signature(target).parameters if p != "self")
        if params != private.params:
            return f"{where} takes ({', '.join(params)}), expected ({', '.join(private.params)})"
        return None
    if not inspect.isclass(owner):
        return None if hasattr(owner, private.name) else f"{where} is gone"
    if hasattr(owner, private.name):
        return None
    pattern = re.compile(rf"\b{re.escape(private.name)}\b")
    if any(pattern.search(_source(k)) for k in owner.__mro__ if k is not object):
        return None
    return f"{where} is no longer assigned by {owner.__name__} or its bases"


def problems(names: Iterable[str] | None = None) -> list[str]:
    """Everything that changed under the hooks `names` (all by default), versions first."""
    found = []
    for dist, version in PINNED.items():
        try:
            installed = metadata.version(dist)
        except metadata.PackageNotFoundError:
            installed = "not installed"
        if installed != version:
            found.append(f"{dist} {installed} is installed; the hooks were written for {version}")
    for name in names or HOOKS:
        for private in HOOKS[name].privates:
            if (problem := _problem(private)) is not None:
                found.append(f"hook {name}: {problem}")
    return found


def verify(enabled: Iterable[str] | None = None) -> None:
    """Stop with one message naming what changed, before a worker builds anything on it."""
    found = problems(enabled)
    if found:
        raise HookMismatch(
            "faust/aiokafka internals changed under shared/runtime/hooks.py:\n  - " + "\n  - ".join(found)
            + "\nPin the versions in pyproject.toml back, or adapt the hook and re-measure it "
              "(bench/RESULTS.md); PN_HOOKS_OFF=<name> runs without a hook meanwhile.")


def enabled(hooks_off: Iterable[str]) -> set[str]:
    """The hooks in use under PN_HOOKS_OFF; an unknown name is an error, not a silent no-op."""
    off = {h.strip() for h in hooks_off if h.strip()}
    unknown = off - HOOKS.keys()
    if unknown:
        raise HookMismatch(f"PN_HOOKS_OFF names unknown hooks {sorted(unknown)}; hooks: {sorted(HOOKS)}")
    if "unreadable_batch" in off and "fetch_loop" not in off:
        raise HookMismatch("unreadable_batch is installed with fetch_loop: turn fetch_loop off")
    if "batch_feed" in off:
        off.add("fetch_loop")  # the loop hands records to feeds: without feeds it has nothing to do
    if "fetch_loop" in off:
        off.add("unreadable_batch")
    return set(HOOKS) - off


# -- installing: the only assignments to faust's classes -------------------------------------------
_installed: set[str] = set()


def install_fetch_loop(drain: Callable[..., Any]) -> None:
    """`Consumer._drain_messages` → `drain` (process-wide, once); `drain` falls back to faust's
    own loop (`faust_drain_messages()`) for apps without feeds."""
    if "fetch_loop" in _installed:
        return
    from faust.transport.consumer import Consumer

    faust_drain_messages()  # faust's own loop remembered before it is replaced (the fallback's)
    Consumer._drain_messages = drain  # type: ignore[method-assign]
    _installed.add("fetch_loop")


@cache
def faust_drain_messages() -> Callable[..., Any]:
    """faust's own fetch loop, as it was before `install_fetch_loop`."""
    from faust.transport.consumer import Consumer

    return Consumer._drain_messages


def route_conductor(app: Any, handler_for: Callable[[Any], Any | None]) -> None:
    """The conductor of `app` asks `handler_for(tp)` first for a partition's delivery callback;
    None falls back to faust's own (`Conductor._build_handler`, once per app)."""
    conductor = app.topics
    build = conductor._build_handler

    def _build_handler(tp: Any, channels: Any) -> Any:
        return handler_for(tp) or build(tp, channels)

    conductor._build_handler = _build_handler


def current_event_var() -> Any:
    """faust's context variable of the event being processed, read by its RocksDB store for the
    partition of a write (the feed sets it around each record's writes)."""
    from faust.streams import _current_event

    return _current_event


_worker_consumer_attrs: dict[str, Any] = {}


def _set_on_worker_consumers(attr: str, value: Any) -> None:
    """faust's worker consumers get `attr = value` before they start: aiokafka reads these when it
    builds its Fetcher (AIOKafkaConsumerThread._create_worker_consumer, patched once)."""
    _worker_consumer_attrs[attr] = value
    if "worker_consumer" in _installed:
        return
    from faust.transport.drivers import aiokafka as driver

    create = driver.AIOKafkaConsumerThread._create_worker_consumer

    def _create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = create(self, transport)
        for name, setting in _worker_consumer_attrs.items():
            setattr(consumer, name, setting)
        return consumer

    driver.AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer
    _installed.add("worker_consumer")


def install_fetch_wait(ms: int) -> None:
    """faust's worker consumers use `ms` as fetch_max_wait_ms."""
    _set_on_worker_consumers("_fetch_max_wait_ms", ms)


def install_read_committed() -> None:
    """faust's worker consumers read committed records only (isolation.level=read_committed)."""
    _set_on_worker_consumers("_isolation_level", "read_committed")


def install_fetch_result_getall(getall: Callable[..., Any]) -> None:
    """aiokafka's `FetchResult.getall` → `getall` (process-wide, once)."""
    if "unreadable_batch" in _installed:
        return
    from aiokafka.consumer.fetcher import FetchResult

    FetchResult.getall = getall  # type: ignore[method-assign]
    _installed.add("unreadable_batch")


def install_highwaters(true_ends: Callable[[Any], Any]) -> None:
    """faust's recovery asks `true_ends(reported)` for the end offsets it reads changelogs to."""
    if "true_highwaters" in _installed:
        return
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    reported_highwaters = AIOKafkaConsumerThread._highwaters

    async def _highwaters(self: Any, partitions: Any) -> Any:
        reported = await reported_highwaters(self, partitions)
        if self.consumer.in_transaction:
            return reported
        return await true_ends(reported)

    AIOKafkaConsumerThread._highwaters = _highwaters
    _installed.add("true_highwaters")


def drop_blueprints(app: Any, name_part: str) -> None:
    """faust's web blueprints whose name contains `name_part` are not served (the list is read
    when the web server starts)."""
    blueprints = app.web.blueprints
    blueprints._enabled = [(prefix, bp) for prefix, bp in blueprints._enabled
                           if name_part not in str(getattr(bp, "name", bp))]
