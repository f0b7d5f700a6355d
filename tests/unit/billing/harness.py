"""The billing service's two processors over in-memory stores, wired as in app.py (no broker).

Drafts a close publishes are fed back into the book processor, as the drafts topic would."""

from __future__ import annotations

from collections.abc import Sequence

from services.billing.handlers import BOOK_HANDLERS, DAY_HANDLERS, Deps
from services.billing.rules import BillingRules
from services.billing.settings import Settings
from shared.consumer import Processor
from shared.events import CareDayCancelled, CareDayRecorded, Envelope, PeriodCloseRequested
from shared.logging import get_logger
from shared.state import Store
from shared.testing import FakePublisher, FixedClock, message
from shared.topics import BILLING_DRAFTS, BILLING_INVOICES, CARE_DAYS, COMMANDS


class Billing:
    def __init__(self, rules: BillingRules, **settings: object) -> None:
        self.clock, self.publisher = FixedClock(), FakePublisher()
        self.deps = Deps(days=Store("care-days"), invoices=Store("invoices"), rules=rules,
                         settings=Settings(**settings), clock=self.clock, log=get_logger(service="billing"))
        common = {"service": "billing", "deps": self.deps, "publisher": self.publisher, "clock": self.clock}
        self.days = Processor(handlers=DAY_HANDLERS, stores=[self.deps.days], **common)
        self.days.use_seen_store([CARE_DAYS], None)  # as agents.py: idempotent by the day facts
        self.days.guard_ids([CARE_DAYS], Store("ids-p4"))  # as ServiceRuntime.consume(idempotent=True)
        self.books = Processor(handlers=BOOK_HANDLERS, stores=[self.deps.invoices], **common)
        self.deps.emit = self.days.emit

    async def record(self, *days: CareDayRecorded | Envelope) -> None:
        await self.days.process_batch([message(CARE_DAYS, d) for d in days])

    async def cancel(self, *care_day_ids: str) -> None:
        await self.days.process_batch([message(CARE_DAYS, CareDayCancelled(care_day_id=i, reason="felregistrerad"))
                                       for i in care_day_ids])

    async def close(self, period: str, service: str = "billing") -> list[Envelope]:
        """Close a period; return the invoices it issued."""
        before = len(self.publisher.sent)
        await self.books.process(message(COMMANDS, PeriodCloseRequested(service=service, period=period)))
        drafts = [s for s in self.publisher.sent[before:] if s.topic == BILLING_DRAFTS.name]
        await self.feed_drafts(drafts)
        return [s.event for s in self.publisher.sent[before:] if s.topic == BILLING_INVOICES.name]

    async def feed_drafts(self, drafts: Sequence[object]) -> None:
        await self.books.process_batch([message(BILLING_DRAFTS, d.value) for d in drafts])

    def on(self, topic: object) -> list[Envelope]:
        return self.publisher.on(topic)


