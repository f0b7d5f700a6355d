"""The budget service wired by its own app.py `wire` over in-memory stores (no broker).

Budgets and postings go through the re-key (`pn.budget.ledger`) to the ledger processor, and what
it publishes on pn.budget.centres to the centre processor, as the internal topics would. `feed(*events)` hands the events to the ledger processor as one batch (the
statuses and alerts reflect the figures at its end); `Budget(batch=1)` feeds them one per batch,
the per-event sequence (as before deferred work: one status per changing event)."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from pathlib import Path

from services.budget.app import build_deps, wire
from services.budget.rules import BudgetRules, load_budget_rules
from services.budget.settings import Settings
from services.budget.spec import SPEC
from shared.contract.events import BudgetSet, Envelope, LedgerPosted
from shared.contract.topics import (
    ALERTS_BUDGET,
    BUDGET_CENTRES,
    BUDGET_STATUS,
    FINANCE_BUDGETS,
    FINANCE_POSTINGS,
)
from shared.service.testing import InMemoryRuntime, message

RULES = Path(__file__).resolve().parents[3] / "rules" / "budget_alerts.yaml"


@cache
def rules() -> BudgetRules:
    """The real rules/budget_alerts.yaml, compiled once per test process."""
    return load_budget_rules(RULES)


class Budget:
    def __init__(self, batch: int | None = None) -> None:
        self.batch = batch  # events per ledger batch; None: each feed() is one batch
        config = Settings()
        self.runtime = InMemoryRuntime(SPEC, config)
        self.clock, self.publisher = self.runtime.clock, self.runtime.sent
        self.deps = wire(self.runtime, config, build_deps(self.runtime, config, rules=rules()))
        self.ledger = self.runtime.processor_for(FINANCE_POSTINGS)  # the re-key: what the public topics feed
        self.centres = self.runtime.processor_for(BUDGET_CENTRES)

    async def feed(self, *events: BudgetSet | LedgerPosted | Envelope) -> None:
        msgs = [message(FINANCE_BUDGETS if _type(e) == "pn.budget.set" else FINANCE_POSTINGS, e) for e in events]
        size = self.batch or max(1, len(msgs))
        for i in range(0, len(msgs), size):
            await self._ledger_batch(msgs[i:i + size])

    async def _ledger_batch(self, msgs: list) -> None:
        await self.ledger.process_batch(msgs)
        await self.runtime.pump()  # pn.budget.ledger to the ledger processor (the same batch), pn.budget.centres on

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
    from shared.apps.demo.seed_jamtland import monthly

    return BudgetSet(year=year, cost_centre=cc, account_group=group, monthly=monthly(Decimal(annual)))


def posting(pid: str, period: str, cc: str, group: str, amount: str | Decimal) -> LedgerPosted:
    return LedgerPosted(posting_id=pid, period=period, cost_centre=cc, account_group=group, amount=Decimal(amount))
