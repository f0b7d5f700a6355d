"""A periodic INFO line per processor: how many events went in and out since the last one.

Per-event log lines cost ~50 µs each (redaction, JSON rendering, the write) — more than a whole
event's processing — so services log single events at DEBUG and operators get this summary
instead: enough to see that a worker is alive and moving, at a cost independent of the rate.
"""

from __future__ import annotations

import time
from typing import Any


class Progress:
    def __init__(self, log: Any, *, every_s: float = 30.0, clock: Any = time.monotonic) -> None:
        self.log, self.every_s, self._clock = log, every_s, clock
        self._since = clock()
        self.events_in = self.events_out = self.dead_lettered = self.batches = 0

    def add(self, events_in: int, events_out: int) -> None:
        self.batches += 1
        self.events_in += events_in
        self.events_out += events_out
        now = self._clock()
        if now - self._since >= self.every_s:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        now = self._clock() if now is None else now
        if self.events_in:
            seconds = max(now - self._since, 1e-9)
            self.log.info("processed", events_in=self.events_in, events_out=self.events_out,
                          dead_lettered=self.dead_lettered, batches=self.batches, seconds=round(seconds, 1),
                          per_s=round(self.events_in / seconds, 1))
        self._since = now
        self.events_in = self.events_out = self.dead_lettered = self.batches = 0
