"""Issue 27: is every store read of a handler local to the partition of the input that triggers it?

`LocalityRuntime` is `InMemoryRuntime` that remembers each store's partition count and each
processor's input partition count, and records every read a processor makes of a store with
another partition count: with several workers such a store's partition is, in general, on another
worker (faust assigns the partitions of one count together, those of another count apart), so the
read sees nothing there. Same-count stores are co-partitioned by key (the tests choose keys so).
"""

from __future__ import annotations

import contextvars
from typing import Any

from shared.service.testing import InMemoryRuntime

_reading: contextvars.ContextVar[int | None] = contextvars.ContextVar("reading", default=None)


class LocalityRuntime(InMemoryRuntime):
    def __init__(self, *args: Any, legacy: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.partitions: dict[str, int] = {}
        self.remote_reads: list[tuple[int, str]] = []  # (processor's partitions, store name)
        self.legacy = legacy  # stores earlier versions wrote, read only as a fallback (documented)
        self.global_names: set[str] = set()

    def global_store(self, name: str, topic: Any) -> Any:
        """Every worker holds all of a global store: a read of it is local anywhere."""
        self.global_names.add(name)
        return super().global_store(name, topic)

    def store(self, name: str, partitions: int) -> Any:
        store = super().store(name, partitions)
        self.partitions[name] = partitions
        for method in ("get", "items_with_prefix"):
            original = getattr(store, method)

            def watched(*a: Any, _original: Any = original, _name: str = name, **k: Any) -> Any:
                reader = _reading.get()
                if reader is not None and reader != self.partitions[_name] and _name not in self.legacy \
                        and _name not in self.global_names:
                    self.remote_reads.append((reader, _name))
                return _original(*a, **k)

            setattr(store, method, watched)
        return store

    def consume(self, *topics: Any, processor: Any = None, **kwargs: Any) -> None:
        super().consume(*topics, processor=processor, **kwargs)
        proc = processor or self._processor
        if getattr(proc, "_watched", False):
            return
        original, partitions = proc.process_batch, topics[0].partitions

        async def process_batch(*a: Any, **k: Any) -> Any:
            token = _reading.set(partitions)
            try:
                return await original(*a, **k)
            finally:
                _reading.reset(token)

        proc.process_batch, proc._watched = process_batch, True
