"""A faust table's changes written in our own batch, in the form faust's recovery reads.

faust sends one changelog record per table write through its buffered `send_soon` path (and
writes the partition's persisted offset to RocksDB per record); on this machine that made a
table write cost about twice an output record. The Processor instead publishes a batch's table
changes, one record per key, once the broker has acknowledged every output of the batch, and only
when it has acknowledged the changes too writes the values into the table's local store and
the highest acknowledged changelog offset per partition as its persisted offset — the two things
faust's own write path leaves behind. Recovery (faust's, unchanged) reads the same records.

Crash semantics: the input offsets are committed only after the batch's records are
acknowledged and applied, so a kill -9 before that replays the batch from the last commit.
Outputs go first: a change on the broker means its batch's outputs are there (a replay emits
them again under the same ids, which readers skip), never a state that says done for an output
that was lost. The changes themselves are one publish: records of one partition arrive in order,
but a crash mid-publish can keep some partitions' records and not others; facts keyed by their
cause make the replay find the same answer (tests/reliability); a value derived from several
facts (budget's year sums) documents its limit.

Reads go the same direct way (`read`): faust's table get asks its store `key in data` and then
`data[key]`, two RocksDB lookups and two key encodings for a hit (profiled: a fifth of a fees
worker's CPU); `read` encodes once and asks each open partition's DB (`key_may_exist`, then
`get`), as faust's store does for a key missing from its key index, without that index: an
LRU behind a lock, which made an absent key cost 4.2 µs against 2.0 (most reads that reach
RocksDB are of absent keys: seen ids, dedup facts; hot keys are in the Store's value cache).
A key is set from one partition only (shared/service/state.py), so any partition holding it holds
its value.

Record format: key and value serialised as the table's own store does (`_encode_key`/
`_encode_value`, the app's JSON serialiser), a deletion is a null value (a tombstone), partition
= the partition of the message that made the change (faust's rule for tables fed by a topic).
When the store's keys and values are untyped JSON (all of ours), keys and values are encoded
and decoded by the function faust's JSON codec ends in (`faust.utils.json`, orjson), without
its registry and codec layers: 0.8–1.8 µs less per key, value and read (tests compare the bytes
with the store's own). Decoding skips faust's model reconstruction: our values are plain JSON,
never faust Records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

from faust.utils import json as faust_json


def _json_codec(data: Any) -> tuple[Callable[[Any], bytes], Callable[[bytes], Any]] | None:
    """(dumps, loads) giving the store's own bytes, when its keys and values are untyped JSON
    and faust's JSON is orjson (bytes out); None otherwise (then the store's methods are used)."""
    app = getattr(data, "app", None)
    if app is None:
        return None
    conf = app.conf
    if (faust_json.orjson is None or data.key_type is not None or data.value_type is not None
            or (data.key_serializer or conf.key_serializer) != "json"
            or (data.value_serializer or conf.value_serializer) != "json"):
        return None
    return faust_json.dumps, faust_json.loads


class TableChangelog:
    """One faust table's changelog written in our batches, and its local store read directly
    (see module docstring)."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self._topic: str | None = None

    @cached_property
    def _json(self) -> tuple[Callable[[Any], bytes], Callable[[bytes], Any]] | None:
        return _json_codec(self._table.data)

    def read(self, key: str, default: Any = None) -> Any:
        """The value of `key` in the local store, or `default`: one lookup (see module docstring)."""
        data = self._table.data
        get_raw = getattr(data, "_get", None)
        if get_raw is None:  # the in-memory store keeps Python values
            return data.get(key, default)
        codec = self._json
        if codec is None:
            raw = get_raw(data._encode_key(key))  # noqa: SLF001
            return default if raw is None else data._decode_value(raw)  # noqa: SLF001
        dumps, loads = codec
        key_bytes = dumps(key)
        dbs = data._dbs if getattr(data, "use_rocksdict", False) else None  # noqa: SLF001
        if dbs is None:
            raw = get_raw(key_bytes)
        else:  # every open partition, as faust's store does for a key not in its index
            raw = None
            for db in dbs.values():
                if db.key_may_exist(key_bytes) and (raw := db.get(key_bytes)) is not None:
                    break
        return default if raw is None else loads(raw)

    @property
    def topic(self) -> str:
        if self._topic is None:
            self._topic = self._table.changelog_topic.get_topic_name()
        return self._topic

    def encode(self, key: str, value: Any, deleted: bool) -> tuple[bytes, bytes | None]:
        data = self._table.data
        codec = self._json
        if codec is None:
            return data._encode_key(key), None if deleted else data._encode_value(value)  # noqa: SLF001
        dumps = codec[0]
        return dumps(key), None if deleted else dumps(value)

    def apply(self, key: str, value: Any, key_bytes: bytes, value_bytes: bytes | None) -> None:
        """Write to the local store, without a second changelog record (under the message's
        context): a serialising store (RocksDB) gets the changelog's bytes, the in-memory store
        (`PN_STORE=memory`) the Python key and value, as faust's own write path gives them."""
        data = self._table.data
        if hasattr(data, "_set"):
            if value_bytes is None:
                data._del(key_bytes)  # noqa: SLF001
            else:
                data._set(key_bytes, value_bytes)  # noqa: SLF001
        elif value_bytes is None:
            data.pop(key, None)
        else:
            data[key] = value

    def apply_all(self, writes: Sequence[tuple[bytes, bytes | None, int]]) -> bool:
        """Acknowledged changes (key bytes, value bytes or None for a deletion, partition) into a
        RocksDB store: one write batch per partition, as faust's recovery writes a changelog
        batch (`apply_changelog_batch`), instead of a put per key under the writing message's
        context. A put records the key's partition in the store's key index as faust's `_set`
        does; a deletion goes through the store's `_del` (every partition holding the key).
        False when the store is not faust's rocksdict store: then `apply`, change by change."""
        data = self._table.data
        if not getattr(data, "use_rocksdict", False) or not hasattr(data, "_db_for_partition"):
            return False
        from rocksdict import WriteBatch

        batches: dict[int, Any] = {}
        key_index = data._key_index  # noqa: SLF001
        for key, value, partition in writes:
            if value is None:
                data._del(key)  # noqa: SLF001
                continue
            batch = batches.get(partition)
            if batch is None:
                batch = batches[partition] = WriteBatch(raw_mode=True)
            batch.put(key, value)
            key_index[key] = partition
        for partition, batch in batches.items():
            data._db_for_partition(partition).write(batch)  # noqa: SLF001
        return True

    def persisted(self, partition: int, offset: int) -> None:
        from faust.types import TP

        set_offset = getattr(self._table.data, "set_persisted_offset", None)
        if set_offset is not None:
            set_offset(TP(self.topic, partition), offset)
