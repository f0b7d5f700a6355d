"""The fees service's two processors over in-memory stores, wired as in app.py (no broker)."""

from __future__ import annotations

from pathlib import Path

from services.fees.handlers import BOOK_HANDLERS, REUSED_HANDLERS, VISIT_HANDLERS, Deps
from services.fees.rules import FeeSchedule, load_schedule
from services.fees.settings import Settings
from shared.consumer import Processor
from shared.events import Envelope, EventData, Tick
from shared.logging import get_logger
from shared.state import Store
from shared.testing import FakePublisher, FixedClock, message
from shared.topics import (
    COMMANDS,
    FEES_CALCULATED,
    FEES_DRAFTS,
    FEES_REJECTED,
    SUPPORT_ASSIGNMENTS,
    SUPPORT_VISITS,
    TICKS,
)

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
    def __init__(self, **settings: object) -> None:
        self.clock, self.publisher = FixedClock(), FakePublisher()
        self.deps = Deps(fees=Store("fees"), books=Store("books"), schedule=schedule(),
                         settings=Settings(**settings), clock=self.clock, log=get_logger(service="fees"))
        common = {"service": "fees", "deps": self.deps, "publisher": self.publisher, "clock": self.clock}
        self.visits = Processor(handlers=VISIT_HANDLERS, stores=[self.deps.fees], **common)
        self.visits.use_seen_store([SUPPORT_ASSIGNMENTS, SUPPORT_VISITS, TICKS], None)  # as agents.py
        self.visits.guard_ids([SUPPORT_ASSIGNMENTS, SUPPORT_VISITS], Store("ids-p4"))  # as ServiceRuntime.consume
        self.visits.on_reused = REUSED_HANDLERS  # as app.py
        self.books = Processor(handlers=BOOK_HANDLERS, stores=[self.deps.books], **common)
        self.deps.emit = self.visits.emit
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
