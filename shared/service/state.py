"""Service state as a unit of work over a key-value table (a faust Table, or a dict in tests).

Handlers read and write a `Store` like a dict. Writes are staged, visible to later reads at once,
and applied to the table only when the wrapper commits them, after the outputs they caused were
acknowledged by the broker. So a crash between output and state can only cause a re-emit with the
same deterministic ids, never a state change whose output was lost.

Design rule for handlers: write facts keyed by their cause (`week[assignment, week] = visit_id`),
never blind increments, so that reprocessing an event after a crash finds the same answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol


class Changelog(Protocol):
    """What the Processor needs of a table's changelog; the runtime's `TableChangelog` is one
    (shared/runtime/changelog.py). Declared here so the service layer never imports the runtime."""

    @property
    def topic(self) -> str: ...

    def read(self, key: str, default: Any = None) -> Any: ...

    def encode(self, key: str, value: Any, deleted: bool) -> tuple[bytes, bytes | None]: ...

    def apply(self, key: str, value: Any, key_bytes: bytes, value_bytes: bytes | None) -> None: ...

    def apply_all(self, writes: Sequence[tuple[bytes, bytes | None, int]]) -> bool: ...

    def persisted(self, partition: int, offset: int) -> None: ...

_DELETED = object()
_UNCACHED = object()
_NO_CONTEXT = nullcontext()  # reusable: nullcontext keeps no state
Tag = tuple[int, int]


class Store:
    """A staged view over `table`. Keys are strings; values JSON-compatible."""

    def __init__(self, name: str, table: MutableMapping[str, Any] | None = None, *,
                 changelog: Changelog | None = None, cache_entries: int = 0) -> None:
        self.name = name
        self.table: MutableMapping[str, Any] = table if table is not None else {}
        self.changelog = changelog
        """Set for a faust table: the Processor publishes the changes itself (shared/runtime/changelog.py)."""
        # Committed values (and absences) read before: a faust table read is a RocksDB lookup plus
        # key and value (de)serialisation; the worker is its partitions' only writer, so the copy
        # stays true until a rebalance, when the runtime calls `invalidate()`.
        self._cache: dict[str, Any] = {}
        self._cache_entries = cache_entries
        self._overlay: dict[str, tuple[Any, Tag]] = {}
        self._writes: dict[Tag, list[tuple[str, Any]]] = {}
        self._tag: Tag = (0, 0)
        self._current: list[tuple[str, Any]] | None = None  # the writes of `_tag`, once it wrote
        self._read = changelog.read if changelog is not None else self.table.get

    # -- tagging: the wrapper says which message the next writes belong to
    def invalidate(self) -> None:
        """Forget cached values (a rebalance or recovery may have changed the table under us)."""
        self._cache.clear()

    def begin(self, tag: Tag) -> None:
        self._tag = tag
        self._current = None

    def commit(self, tag: Tag) -> None:
        self.commit_all([tag])

    def commit_all(self, tags: Sequence[Tag], in_context: Callable[[int], AbstractContextManager[Any]] | None = None) -> None:
        """Apply the writes of these messages (in order), each key once with its last value.

        `in_context(index)` wraps the write of a key whose last writer was message `index` of the
        batch (faust puts a table's change on that message's partition)."""
        self.apply(self.collect(tags), in_context)

    def collect(self, tags: Sequence[Tag]) -> dict[str, tuple[Any, Tag]]:
        """Take the staged writes of these messages: each key once, its last value and writer."""
        final: dict[str, tuple[Any, Tag]] = {}
        writes = self._writes
        if not writes:
            return final
        self._current = None
        for tag in tags:
            for key, value in writes.pop(tag, ()):
                final[key] = (value, tag)
        return final

    def apply(self, final: dict[str, tuple[Any, Tag]],
              in_context: Callable[[int], AbstractContextManager[Any]] | None = None) -> None:
        table = self.table
        for key, (value, tag) in final.items():
            with (in_context(tag[1]) if in_context else _NO_CONTEXT):
                if value is _DELETED:
                    table.pop(key, None)
                else:
                    table[key] = value
        self.remember(final)
        self.settle(final)

    def remember(self, final: dict[str, tuple[Any, Tag]]) -> None:
        """Applied values into the read cache (see __init__), for keys it holds a value of.

        A key the cache holds as absent, or not at all, is dropped instead: most writes are new
        facts (a care day, a seen id, a decided visit) that were read once, as absent, and are
        not read again; cached, they filled the cache and cleared it of the keys read again
        and again. The next read of such a key fetches it once (bench/RESULTS.md, seventh round)."""
        cache = self._cache
        if not cache:
            return
        for key, (value, _) in final.items():
            held = cache.get(key, _UNCACHED)
            if held is _UNCACHED:
                continue
            if held is _DELETED or value is _DELETED:
                del cache[key]
            else:
                cache[key] = value

    def settle(self, final: dict[str, tuple[Any, Tag]]) -> None:
        """Drop the staged copies of collected writes (applied, or abandoned with their batch)."""
        overlay = self._overlay
        for key, (_, tag) in final.items():
            staged = overlay.get(key)
            if staged is not None and staged[1] == tag:
                del overlay[key]

    @staticmethod
    def is_deletion(value: Any) -> bool:
        return value is _DELETED

    def rollback(self, tag: Tag) -> None:
        """Abandon one message's staged writes (its handler failed)."""
        if tag == self._tag:
            self._current = None
        self.settle({key: (value, tag) for key, value in self._writes.pop(tag, ())})

    def pending(self) -> int:
        return sum(len(w) for w in self._writes.values())

    # -- the dict-like face handlers use
    def get(self, key: str, default: Any = None) -> Any:
        staged = self._overlay.get(key)
        if staged is not None:
            return default if staged[0] is _DELETED else staged[0]
        if not self._cache_entries:
            return self._read(key, default)
        value = self._cache.get(key, _UNCACHED)
        if value is _UNCACHED:
            value = self._read(key, _DELETED)
            if len(self._cache) >= self._cache_entries:
                self._cache.clear()  # a bound, not an LRU: a batch's working set refills it at once
            self._cache[key] = value
        return default if value is _DELETED else value

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, _DELETED)
        if value is _DELETED:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return self.get(key, _DELETED) is not _DELETED  # type: ignore[arg-type]

    def __setitem__(self, key: str, value: Any) -> None:
        self._overlay[key] = (value, self._tag)
        current = self._current
        if current is None:
            current = self._current = self._writes.setdefault(self._tag, [])
        current.append((key, value))

    def __delitem__(self, key: str) -> None:
        self[key] = _DELETED

    def pop(self, key: str, default: Any = None) -> Any:
        value = self.get(key, default)
        if key in self:
            del self[key]
        return value

    def keys(self) -> Iterator[str]:
        """Committed and staged keys (staged deletions hidden)."""
        seen = set()
        for key, (value, _) in list(self._overlay.items()):
            seen.add(key)
            if value is not _DELETED:
                yield key
        for key in list(self.table.keys()):
            if key not in seen:
                yield key

    def items(self) -> Iterator[tuple[str, Any]]:
        for key in self.keys():
            yield key, self.get(key)

    def items_with_prefix(self, prefix: str) -> Iterator[tuple[str, Any]]:
        """Scan by key prefix (tables are small per service; rocksdb iterates in order)."""
        for key, value in self.items():
            if key.startswith(prefix):
                yield key, value

    def __iter__(self) -> Iterator[str]:
        return self.keys()

    def __bool__(self) -> bool:  # a Store is a handle, truthy even when empty
        return True

    def __len__(self) -> int:
        return sum(1 for _ in self.keys())
