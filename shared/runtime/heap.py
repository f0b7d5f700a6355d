"""The C heap of a worker: fewer malloc arenas, freed memory handed back to the OS.

A worker's native memory is glibc's: Kafka record values, large dicts and lists, pydantic's and
RocksDB's allocations. glibc gives each thread that allocates its own arena (up to 8 per core)
and returns freed memory at the top of an arena only, so after a burst a worker keeps pages it
no longer uses: RSS that stays. Measured on a billing worker (bench/RESULTS.md, fifth round):
two arenas and a periodic `malloc_trim(0)` each took ~9 MB off the peak RSS, at no measurable
cost in throughput. Elsewhere (musl, macOS) this is a no-op.
"""

from __future__ import annotations

import ctypes
import threading
import time
from functools import cache
from typing import Any

M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


@cache
def _glibc() -> Any | None:
    """The C library the process runs on, if it is glibc (its own symbols: no library search)."""
    libc = ctypes.CDLL(None)
    return libc if hasattr(libc, "gnu_get_libc_version") else None


def limit_arenas(arenas: int) -> bool:
    """Allow at most `arenas` malloc arenas (0: glibc's default). Call before threads start:
    a thread gets its arena at its first allocation. True if it was applied."""
    libc = _glibc()
    if libc is None or arenas <= 0:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, arenas))


def start_trimming(every_s: float) -> threading.Thread | None:
    """Hand freed heap pages back to the OS every `every_s` seconds, from a daemon thread (the
    event loop is not paused; a trim takes the arena locks for a few ms at most). 0: never."""
    libc = _glibc()
    if libc is None or every_s <= 0:
        return None

    def trim() -> None:
        while True:
            time.sleep(every_s)
            libc.malloc_trim(0)

    thread = threading.Thread(target=trim, name="pn-heap-trim", daemon=True)
    thread.start()
    return thread
