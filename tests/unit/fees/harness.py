"""The fees service wired by its own app.py `wire` over in-memory stores (no broker)."""

from __future__ import annotations

from pathlib import Path

from services.fees.app import build_deps, wire
from services.fees.rules import FeeSchedule, load_schedule
from services.fees.settings import Settings
from services.fees.spec import SPEC
from shared.contract.events import Envelope, EventData, Tick
from shared.contract.topics import (
    COMMANDS,
    FEES_CALCULATED,
    FEES_DRAFTS,
    FEES_PERSONS,
    FEES_REJECTED,
    SUPPORT_ASSIGNMENTS,
    SUPPORT_VISITS,
    TICKS,
)
from shared.service.testing import InMemoryRuntime, message

from .factories import close

ROOT = Path(__file__).resolve().parents[3]
_schedule: FeeSchedule | None = None


def schedule() -> FeeSchedule:
    """The real rules/fee_schedule.yaml, compiled once per process (durable-rules is global)."""
    global _schedule
    if _schedule is None:
        _schedule = load_schedule(ROOT / "rules" / "fee_schedule.yaml")
    return _schedule


class Fees:
    """The fees service as app.py wires it (`wire`), over in-memory stores: what stage 1 re-keys onto
    pn.fees.persons (on the partition it names) is delivered to stage 2 as Kafka would, and so are
    a close's broadcast; its drafts go back to the books processor when `issue_drafts` delivers
    them, as the one-partition drafts topic would."""

    def __init__(self, **settings: object) -> None:
        config = Settings(**settings)
        self.runtime = InMemoryRuntime(SPEC, config)
        self.clock, self.publisher = self.runtime.clock, self.runtime.sent
        self.deps = wire(self.runtime, config, build_deps(self.runtime, config, schedule=schedule()))
        self.route = self.runtime.processor_for(SUPPORT_VISITS)
        self.visits = self.runtime.processor_for(FEES_PERSONS)
        self.books = self.runtime.processor_for(COMMANDS)
        self._delivered = 0
        self._drafts_delivered = 0

    async def send(self, *events: EventData | Envelope, one_by_one: bool = False) -> None:
        """Publish these on the public topics (one batch to stage 1), then deliver what it re-keyed."""
        msgs = []
        for e in events:
            data = e.data if isinstance(e, Envelope) else e
            topic = SUPPORT_VISITS if data.event_type == "pn.support.visit_reported" else SUPPORT_ASSIGNMENTS
            msgs.append(message(topic, e))
        await self.route.process_batch(msgs)
        await self.persons(one_by_one=one_by_one)

    async def persons(self, *, one_by_one: bool = False) -> None:
        """Deliver what was published on pn.fees.persons since, to stage 2, partition by partition
        as a worker would fetch them (a batch per run of one partition, or one by one)."""
        sent = self.publisher.sent
        while self._delivered < len(sent):
            pending = [s for s in sent[self._delivered:] if s.topic == FEES_PERSONS.name]
            self._delivered = len(sent)
            runs: list[list[object]] = []
            for record in pending:
                msg = message(FEES_PERSONS, record.value, key=record.key, partition=record.partition or 0)
                if one_by_one or not runs or runs[-1][0].partition != msg.partition:  # type: ignore[attr-defined]
                    runs.append([])
                runs[-1].append(msg)
            for run in runs:
                await self.visits.process_batch(run)  # type: ignore[arg-type]

    async def tick(self, service: str = "fees") -> None:
        """A tick on every partition, as the runtime's timer sends them."""
        for partition in range(TICKS.partitions):
            await self.visits.process(message(TICKS, Tick(service=service, at=self.clock.now()), partition=partition))
        await self.persons()

    async def close(self, period: str, *, issue: bool = True) -> list[Envelope]:
        """Close a period (the broadcast reaches every partition of stage 2); with `issue`, deliver
        its drafts (and any not yet delivered) back to the books processor as the one-partition
        drafts topic would."""
        before = len(self.publisher.sent)
        await self.books.process(message(COMMANDS, close(period)))
        await self.persons()
        if issue:
            await self.issue_drafts()
        return [s.event for s in self.publisher.sent[before:] if s.topic not in (FEES_DRAFTS.name, FEES_PERSONS.name)]

    async def issue_drafts(self) -> None:
        drafts = [s for s in self.publisher.sent if s.topic == FEES_DRAFTS.name]
        for sent in drafts[self._drafts_delivered:]:
            await self.books.process(message(FEES_DRAFTS, sent.value))
        self._drafts_delivered = len(drafts)

    def public(self) -> list[Envelope]:
        """What the service published on the public topics (not its internal hops)."""
        return [s.event for s in self.publisher.sent if s.topic not in (FEES_DRAFTS.name, FEES_PERSONS.name)]

    def fees(self) -> list[Envelope]:
        return self.publisher.on(FEES_CALCULATED)

    def rejected(self) -> list[Envelope]:
        return self.publisher.on(FEES_REJECTED)

    def on(self, topic: object) -> list[Envelope]:
        return self.publisher.on(topic)
