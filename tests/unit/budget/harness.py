"""The budget service's two processors over in-memory stores, wired as in app.py (no broker).

What the ledger processor publishes on pn.budget.centres is fed to the centre processor, as the
internal topic would. `feed(*events)` hands the events to the ledger processor as one batch (the
statuses and alerts reflect the figures at its end); `Budget(batch=1)` feeds them one per batch,
the per-event sequence (as before deferred work: one status per changing event)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from services.budget.handlers import CENTRE_HANDLERS, LEDGER_HANDLERS, Deps
from services.budget.rules import load_budget_rules
from shared.consumer import Processor
from shared.events import BudgetSet, Envelope, LedgerPosted
from shared.logging import get_logger
from shared.state import Store
from shared.testing import FakePublisher, FixedClock, message
from shared.topics import (
    ALERTS_BUDGET,
    BUDGET_CENTRES,
    BUDGET_STATUS,
    FINANCE_BUDGETS,
    FINANCE_POSTINGS,
    TICKS,
)

RULES = Path(__file__).resolve().parents[3] / "rules" / "budget_alerts.yaml"


class Budget:
    def __init__(self, batch: int | None = None) -> None:
        self.batch = batch  # events per ledger batch; None: each feed() is one batch
        self.clock, self.publisher = FixedClock(), FakePublisher()
        self.deps = Deps(ledger=Store("ledger"), totals=Store("totals"), rules=load_budget_rules(RULES),
                         clock=self.clock, log=get_logger(service="budget"))
        common = {"service": "budget", "deps": self.deps, "publisher": self.publisher, "clock": self.clock}
        self.ledger = Processor(handlers=LEDGER_HANDLERS, stores=[self.deps.ledger], **common)
        self.centres = Processor(handlers=CENTRE_HANDLERS, stores=[self.deps.totals], **common)
        self.ledger.use_seen_store([FINANCE_BUDGETS, FINANCE_POSTINGS, TICKS], None)  # as agents.py
        self.ledger.guard_ids([FINANCE_BUDGETS, FINANCE_POSTINGS], Store("ids-p4"))  # as ServiceRuntime.consume
        self.centres.use_seen_store([BUDGET_CENTRES], None)
        self.deps.emit = self.ledger.emit
        self._fed = 0

    async def feed(self, *events: BudgetSet | LedgerPosted | Envelope) -> None:
        msgs = [message(FINANCE_BUDGETS if _type(e) == "pn.budget.set" else FINANCE_POSTINGS, e) for e in events]
        size = self.batch or max(1, len(msgs))
        for i in range(0, len(msgs), size):
            await self._ledger_batch(msgs[i:i + size])

    async def _ledger_batch(self, msgs: list) -> None:
        await self.ledger.process_batch(msgs)
        internal = [s for s in self.publisher.sent[self._fed:] if s.topic == BUDGET_CENTRES.name]
        self._fed = len(self.publisher.sent)
        if internal:
            await self.centres.process_batch([message(BUDGET_CENTRES, s.value) for s in internal])
            self._fed = len(self.publisher.sent)

    def statuses(self) -> list[Envelope]:
        return self.publisher.on(BUDGET_STATUS)

    def latest(self, subject: str, year: int) -> dict:
        last = [e for e in self.statuses() if e.data.cost_centre == subject and e.data.year == year][-1]
        return last.data.model_dump(mode="json")

    def alerts(self) -> list[Envelope]:
        return self.publisher.on(ALERTS_BUDGET)


def _type(e: object) -> str:
    return e.type if isinstance(e, Envelope) else e.event_type  # type: ignore[attr-defined]


def budget(year: int, cc: str, group: str, annual: str | Decimal) -> BudgetSet:
    from services.budget.seed_jamtland import monthly

    return BudgetSet(year=year, cost_centre=cc, account_group=group, monthly=monthly(Decimal(annual)))


def posting(pid: str, period: str, cc: str, group: str, amount: str | Decimal) -> LedgerPosted:
    return LedgerPosted(posting_id=pid, period=period, cost_centre=cc, account_group=group, amount=Decimal(amount))
