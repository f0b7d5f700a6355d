"""Partitions a worker cannot read past, and who is told about them.

A failure below the wrapper — a record batch the Kafka client cannot decode (a codec it lacks,
a corrupt compressed payload), a record that fails its CRC — is not a bad message the Processor
can dead-letter: the client raises before any record of the batch exists, and on the next fetch
it meets the same batch again. faust lets that crash the worker, which restarts into the same
batch: a crash loop that also stops every healthy partition of the worker.

Instead the fetch loop (shared/runtime/fetch_loop.py) pauses that one partition and marks it here; the
other partitions go on. A mark is reported three ways: an ERROR log line, an alert
`ops.partition_stalled` on `pn.alerts.ops` (one per partition and offset: its id is derived from
them) and `/health`, which is not ready while any partition of the worker is stalled and names
them (`stalled`). Getting past it is the operator's decision, since the batch's records are lost
to the service (no dead letter can hold what could not be read): `PN_SKIP_OFFSETS=topic:partition:
offset` for a restart lets the worker, when it meets an unreadable batch of that partition below
that offset, seek to the offset instead (docs/runbook.md). It never skips a readable record.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from shared.service.logging import get_logger

RULE_ID = "ops.partition_stalled"


@dataclass(frozen=True, slots=True)
class StalledPartition:
    topic: str
    partition: int
    offset: int
    """The first offset the worker could not read (its committed offset stays before it)."""
    skip_to: int | None
    """The offset after the unreadable record batch, when the client knew it."""
    error: str
    """The exception's type and text (the client's message, no record content)."""
    since: float


Reporter = Callable[[StalledPartition], Awaitable[None]]


class StalledRegistry:
    """The stalled partitions of one worker (one per faust app), readable by `/health`."""

    def __init__(self) -> None:
        self._by_tp: dict[tuple[str, int], StalledPartition] = {}
        self.reporters: list[Reporter] = []
        self.skips: dict[tuple[str, int], int] = {}
        self.log = get_logger()

    def allowed_skip(self, topic: str, partition: int, offset: int) -> int | None:
        """The offset to skip to from an unreadable `offset`, if PN_SKIP_OFFSETS allows it."""
        to = self.skips.get((topic, partition))
        return to if to is not None and to > offset else None

    def skipped(self, topic: str, partition: int, offset: int, to: int, error: BaseException) -> None:
        self.clear(topic, partition)
        self.log.warning("partition_skipped", topic=topic, partition=partition, offset=offset, skip_to=to,
                         error=f"{type(error).__name__}: {str(error)[:300]}", setting="PN_SKIP_OFFSETS")

    def __bool__(self) -> bool:
        return bool(self._by_tp)

    def __contains__(self, tp: tuple[str, int]) -> bool:
        return (tp[0], tp[1]) in self._by_tp

    def reason(self) -> str | None:
        """For /health (shared/service/readiness.py `add_check`): why the worker is not ready, or None."""
        if not self:
            return None
        return "; ".join(f"{s['topic']}[{s['partition']}] cannot be read at offset {s['offset']} ({s['error']})"
                         for s in self.as_list())

    def as_list(self) -> list[dict[str, Any]]:
        """For `/health`: every stalled partition with the offsets an operator needs."""
        return [{k: v for k, v in asdict(s).items() if k != "since"} for s in self._by_tp.values()]

    async def mark(self, topic: str, partition: int, offset: int, skip_to: int | None, error: BaseException) -> bool:
        """Mark and report a partition; False if it was marked already at this offset."""
        known = self._by_tp.get((topic, partition))
        if known is not None and known.offset == offset:
            return False
        stalled = StalledPartition(topic, partition, offset, skip_to, f"{type(error).__name__}: {str(error)[:300]}",
                                   time.time())
        self._by_tp[(topic, partition)] = stalled
        self.log.error("partition_stalled", topic=topic, partition=partition, offset=offset, skip_to=skip_to,
                       error=stalled.error)
        for report in self.reporters:
            try:
                await report(stalled)
            except Exception as exc:  # the alert is best effort: the log line and /health remain
                self.log.error("partition_stalled_report_failed", topic=topic, partition=partition,
                               error=type(exc).__name__)
        return True

    def clear(self, topic: str, partition: int) -> None:
        self._by_tp.pop((topic, partition), None)


def parse_skips(text: str) -> dict[tuple[str, int], int]:
    """`topic:partition:offset,...` (PN_SKIP_OFFSETS) → {(topic, partition): offset}."""
    skips: dict[tuple[str, int], int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        topic, partition, offset = item.rsplit(":", 2)
        skips[(topic, int(partition))] = int(offset)
    return skips


def registry(app: Any) -> StalledRegistry:
    """The app's registry (created on first use)."""
    found = getattr(app, "_pn_stalled", None)
    if found is None:
        found = app._pn_stalled = StalledRegistry()
    return found


def alert_for(service: str, stalled: StalledPartition, now: Any) -> Any:
    """The `pn.alert.raised` of a stalled partition, with a deterministic event id."""
    from shared.contract.events import AlertMessage, AlertRaised, derive_id, make_event

    where = f"{stalled.topic}[{stalled.partition}]@{stalled.offset}"
    to = stalled.skip_to if stalled.skip_to is not None else stalled.offset + 1
    skip = f" PN_SKIP_OFFSETS={stalled.topic}:{stalled.partition}:{to}"
    alert = AlertRaised(
        alert_id=f"{RULE_ID}:{service}:{where}", rule_id=RULE_ID, severity="critical", subject=where,
        message=AlertMessage(
            sv=f"{service} kan inte läsa {where} och har stannat den partitionen; övriga fortsätter. "
               f"Se runbook: hoppa förbi vid omstart med{skip}.",
            en=f"{service} cannot read {where} and has paused that partition; the others go on. "
               f"See the runbook: skip past it on a restart with{skip}."),
        facts={"service": service, "topic": stalled.topic, "partition": stalled.partition,
               "offset": stalled.offset, "skip_to": stalled.skip_to, "error": stalled.error[:300]},
        raised_at=now)
    return make_event(alert, source=f"/pn/{service}", time=now,
                      id=derive_id(f"/pn/{service}", RULE_ID, stalled.topic, stalled.partition, stalled.offset))


def watch(app: Any, service: str, clock: Any, skips: str = "") -> StalledRegistry:
    """Wire a service's registry: each mark raises its alert on `pn.alerts.ops`; a revoked
    partition is forgotten (its next owner meets and reports it); `skips` is PN_SKIP_OFFSETS."""
    from shared.contract.events import encode
    from shared.contract.events.envelope import CONTENT_TYPE_HEADER
    from shared.contract.topics import ALERTS_OPS

    stalled = registry(app)
    stalled.skips = parse_skips(skips)

    async def alert(partition: StalledPartition) -> None:
        event = alert_for(service, partition, clock.now())
        await app.producer.send(ALERTS_OPS.name, event.data.alert_id.encode(), encode(event), None, None,
                                [CONTENT_TYPE_HEADER])

    async def revoked(sender: Any, revoked: Any, **_: Any) -> None:
        for tp in revoked:
            stalled.clear(tp.topic, tp.partition)

    stalled.reporters.append(alert)
    app.on_partitions_revoked.connect(revoked)
    return stalled
