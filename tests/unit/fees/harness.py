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
    """The fees service as app.py wires it (`wire`), over in-memory stores; drafts go back to the
    books processor when `issue_drafts` pumps them, as the one-partition drafts topic would."""

    def __init__(self, **settings: object) -> None:
        config = Settings(**settings)
        self.runtime = InMemoryRuntime(SPEC, config)
        self.clock, self.publisher = self.runtime.clock, self.runtime.sent
        self.deps = wire(self.runtime, config, build_deps(self.runtime, config, schedule=schedule()))
        self.visits = self.runtime.processor_for(SUPPORT_VISITS)
        self.books = self.runtime.processor_for(COMMANDS)
        self._drafts_delivered = 0

    async def send(self, *events: EventData | Envelope) -> None:
        msgs = []
        for e in events:
            data = e.data if isinstance(e, Envelope) else e
            topic = SUPPORT_VISITS if data.event_type == "pn.support.visit_reported" else SUPPORT_ASSIGNMENTS
            msgs.append(message(topic, e))
        await self.visits.process_batch(msgs)

    async def tick(self, service: str = "fees") -> None:
        await self.visits.process(message(TICKS, Tick(service=service, at=self.clock.now())))

    async def close(self, period: str, *, issue: bool = True) -> list[Envelope]:
        """Close a period; with `issue`, deliver its drafts (and any not yet delivered) back to the
        books processor as the one-partition drafts topic would."""
        before = len(self.publisher.sent)
        await self.books.process(message(COMMANDS, close(period)))
        if issue:
            await self.issue_drafts()
        return [s.event for s in self.publisher.sent[before:] if s.topic != FEES_DRAFTS.name]

    async def issue_drafts(self) -> None:
        drafts = [s for s in self.publisher.sent if s.topic == FEES_DRAFTS.name]
        for sent in drafts[self._drafts_delivered:]:
            await self.books.process(message(FEES_DRAFTS, sent.value))
        self._drafts_delivered = len(drafts)

    def fees(self) -> list[Envelope]:
        return self.publisher.on(FEES_CALCULATED)

    def rejected(self) -> list[Envelope]:
        return self.publisher.on(FEES_REJECTED)

    def on(self, topic: object) -> list[Envelope]:
        return self.publisher.on(topic)
