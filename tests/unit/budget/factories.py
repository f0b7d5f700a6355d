"""Budget inputs as envelopes with deterministic ids (for broker tests and the in-process reference)."""

from __future__ import annotations

from shared.contract.events import BudgetSet, Envelope, LedgerPosted, derive_id, make_event
from shared.service.testing import FixedClock

from .harness import budget, posting

NOW = FixedClock().now()


def env(data: BudgetSet | LedgerPosted, *salt: object) -> Envelope:
    source = "/ekonomi/budget" if isinstance(data, BudgetSet) else "/ekonomi/huvudbok"
    return make_event(data, source=source, time=NOW, id=derive_id("test", data.model_dump_json(), *salt))


def fees_overrun(year: int) -> tuple[list[Envelope], list[Envelope], Envelope]:
    """6103 fees: budget −900,000; 75,000 a month for three months; −200,000 in April (run-rate
    forecast −1,275,000: 375,000 over the annual budget); then the budget is raised to −1,300,000."""
    start = [env(budget(year, "6103", "fees", "-900000"))] + [
        env(posting(f"ovr-{year}-{m}", f"{year}-{m:02d}", "6103", "fees", "-75000")) for m in (1, 2, 3)]
    april = [env(posting(f"ovr-{year}-4", f"{year}-04", "6103", "fees", "-200000"))]
    return start, april, env(budget(year, "6103", "fees", "-1300000"))
