"""The one consumer wrapper every service uses: decode → validate → dedup → handle → emit.

It is transport-neutral: the faust adapter (shared/runtime/app.py) hands it batches of `Message`s;
tests and benchmarks hand it messages directly. Per message, any failure (bytes that are not
JSON, an invalid envelope or payload, an unknown type, a handler exception) becomes a
`pn.event.rejected` on `pn.deadletter` with the reason and the original bytes, and the batch goes
on. Outputs of the batch are sent and acknowledged, then the state writes are published (their
changelog records) and committed (see shared/service/state.py), then the transport may acknowledge the
offsets.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import itertools
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from pydantic import ValidationError

from shared.contract.events import (
    Envelope,
    EventData,
    EventRejected,
    derive_id,
    emitted_event,
    make_event,
)
from shared.contract.events.binary_mode import (
    NotCloudEvent,
    cloudevent_headers,
    is_binary,
    to_structured,
)
from shared.contract.events.envelope import CONTENT_TYPE_HEADER, decoder_for
from shared.contract.topics import BY_NAME, DEADLETTER, Topic
from shared.service.logging import get_logger
from shared.service.metrics import Metrics
from shared.service.ports import Clock, Emit, Later, Publisher
from shared.service.progress import Progress
from shared.service.state import Store

_batches = itertools.count(1)
"""Batch numbers unique in the process, so stores shared by several processors never mix tags."""

Handler = Callable[..., "list[Emit | Later] | Awaitable[list[Emit | Later]]"]
MAX_VALUE_BYTES = 1_048_576
"""Tansu does not enforce max.message.bytes, so we do: larger values are dead-lettered."""
DEADLETTER_RAW_MAX = 524_288
"""Bytes of an original value a dead letter carries; beyond, the copy is cut and marked
`raw_truncated` (its sha256 and size describe the whole). Keeps every dead letter buildable and
sendable whatever arrived (issue 22: 1.2 MB of random bytes once stopped a partition)."""


@dataclass(frozen=True, slots=True)
class Message:
    """A consumed record, independent of the Kafka client that delivered it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float | None = None
    headers: Sequence[tuple[str, bytes]] = ()


class Emitter:
    """Builds output events with deterministic ids (from their cause) for one service."""

    def __init__(self, service: str, clock: Clock) -> None:
        self.source = f"/pn/{service}"
        self.clock = clock

    def __call__(
        self, topic: Topic, data: EventData, *, key: str | None, cause: Iterable[object],
        subject: str | None = None, time: datetime | None = None,
    ) -> Emit:
        """`time` defaults to the clock; pass a business time to keep a replay's envelope identical."""
        event_id = derive_id(self.source, data.event_type, *cause)
        event = emitted_event(data, source=self.source, time=time or self.clock.now(), id=event_id, subject=subject)
        return Emit(topic, key, event)


class _Logged(NamedTuple):
    """A table change published in the batch: applied locally once acknowledged."""

    store: Store
    key: str
    value: Any
    key_bytes: bytes
    value_bytes: bytes | None
    index: int  # of the message that made it, in the batch
    partition: int
    at: int  # its record's position in the batch's publish


class _Rejected(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors


def _pydantic_errors(exc: ValidationError) -> list[dict[str, Any]]:
    # Only loc and msg: pydantic's `input` may hold personal data and must not leak to logs.
    return [{"loc": [p for p in e["loc"]], "msg": e["msg"]} for e in exc.errors(include_url=False)]


class Processor:
    """Processes batches of messages for one service. See module docstring."""

    def __init__(
        self,
        *,
        service: str,
        handlers: Mapping[str, Handler],
        deps: Any,
        publisher: Publisher,
        clock: Clock,
        stores: Sequence[Store] = (),
        seen: Store | None = None,
        metrics: Metrics | None = None,
        topics: Sequence[Topic] | None = None,
        in_context: Callable[[int], AbstractContextManager[Any]] | None = None,
    ) -> None:
        self.service = service
        self.handlers = dict(handlers)
        self._is_async = {t: inspect.iscoroutinefunction(h) for t, h in self.handlers.items()}
        self.deps = deps
        self.publisher = publisher
        self.clock = clock
        self.seen = seen if seen is not None else Store("seen")
        self._seen_by_topic: dict[str, Store | None] = {}
        self._ids_by_topic: dict[str, Store] = {}
        self.on_reused: dict[str, Callable[[Envelope, Any], list[Emit]]] = {}
        """Per event type: the business rejection of an event whose id was used before with other
        content (e.g. on `pn.fees.rejected`); types without one are dead-lettered."""
        self.stores = [*stores, self.seen]
        self.metrics = metrics or Metrics(service)
        self.emit = Emitter(service, clock)
        self.log = get_logger(service=service)
        self.progress = Progress(self.log)
        self._last_event: Envelope | None = None
        self._last_value = b""
        self.partition = 0
        """The partition of the message being handled: for handlers whose state is per partition
        (e.g. a tick that must act only on its own partition's entries)."""
        self._decoders = {t.name: decoder_for(t.event_types) for t in (topics or BY_NAME.values())}
        # prometheus' labels() costs ~2 µs a call; the labelled children are cached per topic
        self._latency = self.metrics.latency.labels(service)
        self._counters: dict[tuple[int, str], Any] = {}

    def _count(self, metric: Any, topic: str) -> Any:
        child = self._counters.get((id(metric), topic))
        if child is None:
            child = self._counters[(id(metric), topic)] = metric.labels(self.service, topic)
        return child

    def _count_by_topic(self, metric: Any, topics: Iterable[str]) -> None:
        """One increment per topic and batch (a counter's inc takes a lock: ~1 µs a call)."""
        for topic, n in Counter(topics).items():
            self._count(metric, topic).inc(n)

    def use_seen_store(self, topics: Sequence[Topic], store: Store | None) -> None:
        """Remember processed ids of these topics in `store` (faust needs one per partition count).

        `None`: the handlers of these topics are idempotent by their own state (a second delivery
        of an event finds its fact already stored and has no effect, outputs included), so no id
        is stored for them: one table write (one changelog record) less per event."""
        for t in topics:
            self._seen_by_topic[t.name] = store
        if store is not None and all(store is not s for s in self.stores):
            self.stores.append(store)

    def guard_ids(self, topics: Sequence[Topic], store: Store) -> None:
        """For topics consumed without seen ids (`use_seen_store(..., None)`): remember each
        event id's content digest in `store`, only to refuse an id used again with other content
        (issue 22: a visit sent under another visit's id was paid). A known id with the same
        content is still handed to the idempotent handler, never skipped on the digest's word, so
        a digest that outlived its event's effects (a crash between two changelogs) loses nothing."""
        for t in topics:
            self._ids_by_topic[t.name] = store
        if all(store is not s for s in self.stores):
            self.stores.append(store)

    # -- public ------------------------------------------------------------------------------
    async def process_batch(
        self, messages: Sequence[Message],
        in_context: Callable[[int], AbstractContextManager[Any]] | None = None,
    ) -> None:
        """Handle every message, publish all outputs, then commit state. Never raises for bad input.

        State is committed once per batch: a key written by several messages of the batch is
        written to the table once, with its last value (on faust one changelog record instead of
        one per message), under the context of the message that wrote it last."""
        batch = next(_batches)
        records: list[tuple[Any, ...]] = []  # (topic, key, value, headers[, partition])
        later: dict[object, list[tuple[tuple[int, int], Later]]] = {}
        started = time.time()
        self._count_by_topic(self.metrics.events_in, (m.topic for m in messages))
        tags = [(batch, index) for index in range(len(messages))]
        try:
            for index, message in enumerate(messages):
                tag = tags[index]
                for store in self.stores:
                    store.begin(tag)
                for out in await self._process_one(message, tag):
                    if isinstance(out, Later):
                        later.setdefault(out.key, []).append((tag, out))
                    else:
                        records.append(self._record(out))
            for (tag, work), message in ((entries[-1], messages[entries[-1][0][1]]) for entries in later.values()):
                for out in self._run_later(work, tag, message):
                    records.append(self._record(out))
        except BaseException:
            # an output that cannot be encoded (a bug) fails the batch before its writes are
            # collected: they are abandoned here, or the batch taken again would find its own
            # seen ids and skip its events (issue 22: lost within the process)
            self._last_event, self._last_value = None, b""
            for store in self.stores:
                for tag in tags:
                    store.rollback(tag)
            raise
        outputs = len(records)
        self._count_by_topic(self.metrics.events_out, (r[0] for r in records))
        changes = [(store, store.collect(tags)) for store in self.stores]
        logged = self._changelog_records(changes, messages, records)
        try:
            # outputs first, then the table changes that record them: a changelog record on the
            # broker implies that every output of its batch is there too. A crash in between
            # replays the batch, which emits the outputs again under the same ids; in one publish,
            # a partition's records could reach the broker without another's (aiokafka sends each
            # partition's batch when it is ready) and a state could say done for a lost output.
            acks = await self._publish(records[:outputs])
            acks += await self._publish(records[outputs:])
        except BaseException:
            for store, final in changes:  # nothing of this batch may outlive unsent outputs
                store.settle(final)
            raise
        for store, final in changes:
            if store.changelog is None:
                store.apply(final, in_context)
        self._apply_logged(changes, logged, acks, in_context)
        now = time.time()
        observe = self._latency.observe
        for message in messages:
            observe(max(0.0, now - (message.timestamp or started)))
        self.progress.add(len(messages), outputs)

    @staticmethod
    def _changelog_records(changes: Sequence[tuple[Store, dict[str, tuple[Any, tuple[int, int]]]]],
                           messages: Sequence[Message], records: list[tuple[Any, ...]]) -> list[_Logged]:
        """Append the batch's table changes (stores with a changelog, shared/runtime/changelog.py) to the
        records to publish, one per key, on the partition of the message that made it."""
        logged = []
        for store, final in changes:
            changelog = store.changelog
            if changelog is None:
                continue
            topic = changelog.topic
            for key, (value, tag) in final.items():
                key_bytes, value_bytes = changelog.encode(key, value, store.is_deletion(value))
                partition = messages[tag[1]].partition
                logged.append(_Logged(store, key, value, key_bytes, value_bytes, tag[1], partition, len(records)))
                records.append((topic, key_bytes, value_bytes, (), partition))
        return logged

    @staticmethod
    def _apply_logged(changes: Sequence[tuple[Store, dict[str, tuple[Any, tuple[int, int]]]]],
                      logged: Sequence[_Logged], acks: Sequence[Any],
                      in_context: Callable[[int], AbstractContextManager[Any]] | None) -> None:
        """Acknowledged table changes into the local stores, then their persisted offsets."""
        by_store: dict[int, list[_Logged]] = {}
        for entry in logged:
            by_store.setdefault(id(entry.store), []).append(entry)
        for entries in by_store.values():
            changelog = entries[0].store.changelog
            assert changelog is not None
            if changelog.apply_all([(e.key_bytes, e.value_bytes, e.partition) for e in entries]):
                continue
            for entry in entries:
                with (in_context(entry.index) if in_context else nullcontext()):
                    changelog.apply(entry.key, entry.value, entry.key_bytes, entry.value_bytes)
        highest: dict[tuple[int, int], tuple[Store, int]] = {}
        for entry in logged:
            offset = getattr(acks[entry.at], "offset", None) if entry.at < len(acks) else None
            if offset is not None:
                slot = (id(entry.store), entry.partition)
                if slot not in highest or highest[slot][1] < offset:
                    highest[slot] = (entry.store, offset)
        for (_, partition), (store, offset) in highest.items():
            assert store.changelog is not None
            store.changelog.persisted(partition, offset)
        for store, final in changes:
            if store.changelog is not None:
                store.remember(final)
                store.settle(final)

    def _run_later(self, later: Later, tag: tuple[int, int], message: Message) -> list[Emit]:
        for store in self.stores:
            store.begin(tag)
        try:
            return list(later.work() or ())
        except Exception as exc:  # a bug in deferred work: that message's effect is undone, dead-lettered
            for store in self.stores:
                store.rollback(tag)
            self.log.error("deferred_work_failed", topic=message.topic, partition=message.partition,
                           offset=message.offset, key=str(later.key)[:100], error=type(exc).__name__)
            return [self._dead_letter(message, [{"loc": ["deferred", str(later.key)[:100]],
                                                 "msg": f"{type(exc).__name__}: {_safe(exc)}"}])]

    async def process(self, message: Message) -> None:
        await self.process_batch([message])

    # -- one message ---------------------------------------------------------------------------
    async def _process_one(self, message: Message, tag: tuple[int, int]) -> list[Emit]:
        topic = message.topic
        self.partition = message.partition
        try:
            event, value = self._decode(message)
        except _Rejected as rejected:
            return [self._dead_letter(message, rejected.errors)]
        # an input forwarded unchanged (intake's stage 1) goes on as the bytes it came in, not
        # re-encoded: `_record` reuses the value of the event it encoded last (for a binary-mode
        # input: its structured form, since our outputs are structured)
        self._last_event, self._last_value = event, value
        dedup_key = f"{topic}|{event.id}"
        seen = self._seen_by_topic.get(topic, self.seen)
        guard = self._ids_by_topic.get(topic) if seen is None else None
        digest = known = None
        if seen is not None:
            known = seen.get(dedup_key)
            if known is not None:
                if not isinstance(known, str) or known == content_digest(event):  # 1: stored before digests
                    self._count(self.metrics.duplicates, topic).inc()
                    return []
                return self._refuse_reused(message, event)
            digest = content_digest(event)
        elif guard is not None:
            digest = content_digest(event)
            known = guard.get(dedup_key)
            if known is not None and known != digest:
                return self._refuse_reused(message, event)
        handler = self.handlers.get(event.type)
        if handler is None:  # a type of this topic that this service does not act on
            if seen is not None:
                seen[dedup_key] = digest
            return []
        try:
            result = handler(event, deps=self.deps)
            outputs = await result if self._is_async[event.type] else result
        except Exception as exc:  # one bad message must not stop the service
            for store in self.stores:
                store.rollback(tag)
            self.log.error("handler_failed", topic=topic, partition=message.partition,
                           offset=message.offset, event_id=event.id, event_type=event.type,
                           error=type(exc).__name__)
            return [self._dead_letter(message, [{"loc": ["handler", event.type],
                                                 "msg": f"{type(exc).__name__}: {_safe(exc)}"}])]
        if seen is not None:
            seen[dedup_key] = digest
        elif guard is not None and known is None:
            guard[dedup_key] = digest
        return list(outputs or ())

    def _refuse_reused(self, message: Message, event: Envelope) -> list[Emit]:
        """An id seen before with other content: the first event's effect stands; this one is
        refused with a reason (the service's business rejection for its type, or a dead letter)."""
        self.log.warning("event_id_reused", topic=message.topic, partition=message.partition,
                         offset=message.offset, event_id=event.id, event_type=event.type)
        reject = self.on_reused.get(event.type)
        if reject is not None:
            try:
                return list(reject(event, self.deps))
            except Exception as exc:  # a bug in the rejection: the dead letter below says why
                self.log.error("reused_rejection_failed", topic=message.topic, error=type(exc).__name__)
        return [self._dead_letter(message, [{"loc": ["id"], "msg": (
            f"{REUSED_ID}: event id {event.id[:200]} was used before with other content; the first "
            "event with this id took effect, this one is refused (send new content under a new id)")}])]

    def _decode(self, message: Message) -> tuple[Envelope, bytes]:
        """The event and its structured JSON bytes (a binary-mode record's are built from its
        `ce_*` headers and value, shared/contract/events/binary_mode.py; then validated the same way)."""
        raw = message.value
        if raw is None:
            raise _Rejected([{"loc": [], "msg": "empty message (tombstone) on a non-compacted topic"}])
        if len(raw) > MAX_VALUE_BYTES:
            raise _Rejected([{"loc": [], "msg": f"message of {len(raw)} bytes exceeds {MAX_VALUE_BYTES}"}])
        decoder = self._decoders.get(message.topic)
        if decoder is None:
            raise _Rejected([{"loc": ["topic"], "msg": f"{self.service} does not consume {message.topic}"}])
        headers = message.headers
        if headers and headers[0] != CONTENT_TYPE_HEADER and is_binary(headers):
            try:
                raw = to_structured(headers, raw)
            except NotCloudEvent as exc:
                raise _Rejected([{"loc": ["headers"], "msg": str(exc)}]) from None
        try:
            return decoder.validate_json(raw), raw
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            if first["type"] == "json_invalid":
                raise _Rejected([{"loc": [], "msg": f"not JSON: {first['msg']}"}]) from None
            raise _Rejected(_pydantic_errors(exc)) from None
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise _Rejected([{"loc": [], "msg": f"not JSON: {type(exc).__name__}"}]) from None
        except ArithmeticError as exc:  # a validator's Decimal arithmetic (e.g. quantize beyond 28 digits)
            raise _Rejected([{"loc": [], "msg": f"invalid number: {type(exc).__name__}"}]) from None

    def _dead_letter(self, message: Message, errors: list[dict[str, Any]]) -> Emit:
        """The dead letter of a record; never raises, whatever the record holds: if the full one
        cannot be built, one without the raw copy (its sha256 and size still say what it was)."""
        self._count(self.metrics.dead_lettered, message.topic).inc()
        self.progress.dead_lettered += 1
        self.log.warning("dead_lettered", topic=message.topic, partition=message.partition,
                         offset=message.offset, errors=[e["msg"][:200] for e in errors][:5])
        raw = message.value or b""
        event_id = derive_id("/pn/deadletter", self.service, message.topic, message.partition, message.offset)
        common = dict(source_topic=message.topic, partition=message.partition, offset=message.offset,
                      service=self.service, raw_size=len(raw), raw_sha256=hashlib.sha256(raw).hexdigest(),
                      received_at=self.clock.now(), replay_of=_header(message, "pn-replay-of"),
                      raw_headers=cloudevent_headers(message.headers) if is_binary(message.headers) else None)
        try:
            text, encoding, truncated = raw_copy(raw)
            data = EventRejected(errors=[_bounded(e) for e in errors[:50]], raw=text, raw_encoding=encoding,
                                 raw_truncated=truncated, **common)
        except Exception as exc:  # noqa: BLE001 - the last resort must not fail the batch
            self.log.error("dead_letter_fallback", topic=message.topic, partition=message.partition,
                           offset=message.offset, error=type(exc).__name__)
            data = EventRejected(errors=[{"loc": [], "msg": f"unprocessable record ({type(exc).__name__} "
                                          "building its dead letter); raw copy omitted"}],
                                 raw="", raw_truncated=True, **common)
        event = make_event(data, source=self.emit.source, time=self.clock.now(), id=event_id)
        return Emit(DEADLETTER, message.topic, event)

    def _record(self, out: Emit) -> tuple[Any, ...]:
        key = out.key.encode() if out.key is not None else None
        if out.event is not self._last_event:  # one event sent to two topics is encoded once
            self._last_event, self._last_value = out.event, out.value()
        if out.partition is not None:
            return out.topic.name, key, self._last_value, (CONTENT_TYPE_HEADER,), out.partition
        return out.topic.name, key, self._last_value, (CONTENT_TYPE_HEADER,)

    async def _publish(self, records: Sequence[tuple[Any, ...]]) -> list[Any]:
        """All records in order; returns each one's acknowledgement (record metadata) when the
        broker has every one, or raises. A record is (topic, key, value, headers[, partition])."""
        if not records:
            return []
        publish = getattr(self.publisher, "publish", None)  # a BatchPublisher sends without a task per record
        if publish is not None:
            return list(await publish(records) or ())
        pending = [self.publisher.send(*record[:4]) if len(record) < 5 else self.publisher.send(*record)
                   for record in records]  # a record with a partition: (topic, key, value, headers, partition)
        return [await fut for fut in pending]  # in order; each completes when the broker has the record


def raw_copy(raw: bytes, limit: int = DEADLETTER_RAW_MAX) -> tuple[str, str | None, bool]:
    """(text, encoding, truncated): UTF-8 as is, anything else base64, at most `limit` bytes of
    the original (a UTF-8 cut falls on a character boundary)."""
    truncated = len(raw) > limit
    head = raw[:limit] if truncated else raw
    try:
        return head.decode("utf-8"), None, truncated
    except UnicodeDecodeError as exc:
        if truncated and exc.start >= len(head) - 3:  # only the cut character is incomplete
            try:
                return head[:exc.start].decode("utf-8"), None, True
            except UnicodeDecodeError:
                pass
    return base64.b64encode(head).decode(), "base64", truncated


def _bounded(error: dict[str, Any]) -> dict[str, Any]:
    """An error detail as the dead letter carries it: message and location bounded."""
    return {"loc": [p if isinstance(p, int) else str(p)[:200] for p in error.get("loc", [])][:20],
            "msg": str(error.get("msg", ""))[:1000]}


REUSED_ID = "event_id_reused"
"""Reason code of an event refused because its id was used before with other content."""


def content_digest(event: Envelope) -> str:
    """What "the same event" means for an id: its type and data (not its envelope's time or
    source), as a short hash kept beside the id instead of the content itself."""
    data = event.data.__pydantic_serializer__.to_json(event.data)
    return hashlib.blake2b(event.type.encode() + b"\0" + data, digest_size=12).hexdigest()


def _header(message: Message, name: str) -> str | None:
    for key, value in message.headers or ():
        if key == name and value:
            return value.decode("utf-8", "replace")[:200]
    return None


def _safe(exc: Exception) -> str:
    """An exception text for the dead letter, bounded; our domain errors carry no personal data."""
    return str(exc)[:300]
