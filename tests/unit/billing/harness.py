"""The billing service wired by its own app.py `wire` over in-memory stores (no broker).

Care days go through the forwarder into the day processor (`pn.care.days` → `pn.billing.days`),
and the drafts a close publishes back into the book processor, as the topics would."""

from __future__ import annotations

from collections.abc import Sequence

from services.billing.app import build_deps, wire
from services.billing.rules import BillingRules
from services.billing.settings import Settings
from services.billing.spec import SPEC
from shared.contract.events import CareDayCancelled, CareDayRecorded, Envelope, PeriodCloseRequested
from shared.contract.topics import (
    BILLING_DAYS,
    BILLING_DRAFTS,
    BILLING_INVOICES,
    CARE_DAYS,
    COMMANDS,
)
from shared.service.testing import InMemoryRuntime, message


class Billing:
    def __init__(self, rules: BillingRules, **settings: object) -> None:
        config = Settings(**settings)
        self.runtime = InMemoryRuntime(SPEC, config)
        self.clock, self.publisher = self.runtime.clock, self.runtime.sent
        self.deps = wire(self.runtime, config, build_deps(self.runtime, config, rules=rules))
        self.days = self.runtime.processor_for(CARE_DAYS)  # the forwarder: what pn.care.days feeds
        self.decide = self.runtime.processor_for(BILLING_DAYS)
        self.books = self.runtime.processor_for(COMMANDS)

    async def record(self, *days: CareDayRecorded | Envelope) -> None:
        await self.forward([message(CARE_DAYS, d) for d in days])

    async def cancel(self, *care_day_ids: str) -> None:
        await self.forward([message(CARE_DAYS, CareDayCancelled(care_day_id=i, reason="felregistrerad"))
                            for i in care_day_ids])

    async def forward(self, messages: Sequence[object]) -> None:
        """Through the forwarder, then what it forwarded as one batch of `pn.billing.days`."""
        before = len(self.publisher.sent)
        await self.days.process_batch(messages)
        forwarded = [s for s in self.publisher.sent[before:] if s.topic == BILLING_DAYS.name]
        if forwarded:
            await self.decide.process_batch([message(BILLING_DAYS, s.value) for s in forwarded])

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


