"""What `/health` answers: one verdict from everything that can make a worker not ready.

Issue 22: a crashed agent left a worker answering 200 with `pn_ready` 1 and a lag of 0 while one
of its partitions stood still behind a record it could not get past. The verdict is therefore
built here, from facts the runtime reports, and nowhere else:

- `recovering`: faust is rebalancing or restoring tables (the runtime says so per call);
- `agent_crashed`: an agent's batch raised and the agent has not yet finished a batch since
  (the runtime restarts it with a back-off, and exits the process after too many failures);
- `stalled`: a partition has records behind it (broker end offset > next offset to process) and
  its position has not moved for `stall_after_s`;
- any plugged-in check (`add_check`): a callable returning a reason, or None when fine, for
  conditions other modules own (e.g. batches the Kafka client cannot decode).

Pure logic over a monotonic clock: unit-tested without a broker (tests/unit/shared/test_readiness.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Check = Callable[[], "str | None"]


@dataclass
class _Partition:
    position: int | None = None  # next offset to process
    end: int | None = None  # the broker's end offset, last measured
    moved_at: float = 0.0  # when the position last changed (or the partition was first seen)
    behind_since: float | None = None  # when a measurement first found records behind the position


@dataclass(frozen=True)
class Verdict:
    ready: bool
    status: str  # ready | recovering | agent_crashed | stalled | <a plugged-in check's name>
    reasons: tuple[str, ...] = ()

    def body(self, service: str) -> dict[str, Any]:
        body: dict[str, Any] = {"service": service, "status": self.status}
        if self.reasons:
            body["reasons"] = list(self.reasons)
        return body


@dataclass
class Readiness:
    """Facts in (`processed`, `measured`, `agent_crashed`), a `verdict` out."""

    stall_after_s: float = 120.0
    clock: Callable[[], float] = time.monotonic
    _partitions: dict[tuple[str, int], _Partition] = field(default_factory=dict)
    _crashed: dict[str, str] = field(default_factory=dict)  # agent → error type
    _failures: dict[str, int] = field(default_factory=dict)  # agent → consecutive failed batches
    _checks: dict[str, Check] = field(default_factory=dict)

    def add_check(self, name: str, check: Check) -> None:
        """Plug in another condition: `check()` returns a reason (not ready) or None (fine)."""
        self._checks[name] = check

    # -- facts ---------------------------------------------------------------------------------
    def agent_crashed(self, agent: str, error: BaseException) -> int:
        """An agent's batch raised; returns its consecutive failures so far."""
        self._crashed[agent] = type(error).__name__
        self._failures[agent] = self._failures.get(agent, 0) + 1
        return self._failures[agent]

    def agent_ok(self, agent: str) -> None:
        """The agent finished a batch: it runs again."""
        if agent in self._crashed or agent in self._failures:
            self._crashed.pop(agent, None)
            self._failures.pop(agent, None)

    def processed(self, topic: str, partition: int, offset: int) -> None:
        """A record at `offset` was processed (and acknowledged)."""
        self._advance(self._partition(topic, partition), offset + 1)

    def measured(self, ends: Mapping[tuple[str, int], int], positions: Mapping[tuple[str, int], int | None]) -> None:
        """The broker's end offsets of the assigned partitions, and where the consumer stands
        (its committed offsets) where known. Partitions no longer assigned are forgotten."""
        for key in list(self._partitions):
            if key not in ends:
                del self._partitions[key]
        now = self.clock()
        for key, end in ends.items():
            p = self._partition(*key)
            p.end = end
            committed = positions.get(key)
            if committed is not None and (p.position is None or committed > p.position):
                self._advance(p, committed)
            if p.position is not None and end > p.position:
                if p.behind_since is None:  # records arrived at an idle partition: its clock starts now
                    p.behind_since = now
            else:
                p.behind_since = None

    def flow_paused(self) -> None:
        """A rebalance or recovery: positions may not move meanwhile, that is no stall."""
        now = self.clock()
        for p in self._partitions.values():
            p.moved_at = now
            if p.behind_since is not None:
                p.behind_since = now

    # -- answers -------------------------------------------------------------------------------
    def lag(self) -> dict[tuple[str, int], int]:
        """Records behind each partition's end, where both ends are known."""
        return {key: max(0, p.end - p.position) for key, p in self._partitions.items()
                if p.end is not None and p.position is not None}

    def verdict(self, *, recovering: bool = False) -> Verdict:
        if recovering:
            self.flow_paused()
            return Verdict(False, "recovering")
        if self._crashed:
            return Verdict(False, "agent_crashed", tuple(
                f"agent {a} crashed ({err}), {self._failures.get(a, 1)} failed batch(es) in a row"
                for a, err in sorted(self._crashed.items())))
        now = self.clock()
        stalled = tuple(
            f"{topic}[{partition}] stands at offset {p.position} with {p.end - p.position} record(s) "
            f"behind for {now - p.moved_at:.0f} s"
            for (topic, partition), p in sorted(self._partitions.items())
            if p.end is not None and p.position is not None and p.end > p.position
            and now - max(p.moved_at, p.behind_since if p.behind_since is not None else now) >= self.stall_after_s)
        if stalled:
            return Verdict(False, "stalled", stalled)
        for name, check in self._checks.items():
            reason = check()
            if reason:
                return Verdict(False, name, (reason,))
        return Verdict(True, "ready")

    # -- internals -----------------------------------------------------------------------------
    def _partition(self, topic: str, partition: int) -> _Partition:
        p = self._partitions.get((topic, partition))
        if p is None:
            p = self._partitions[(topic, partition)] = _Partition(moved_at=self.clock())
        return p

    def _advance(self, p: _Partition, position: int) -> None:
        if p.position is None or position > p.position:
            p.position = position
            p.moved_at = self.clock()
