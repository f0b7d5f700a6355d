"""The budget service as the platform sees it: name, port, inputs, settings, composition root."""

from __future__ import annotations

from shared.contract.topics import (
    BUDGET_CENTRES,
    BUDGET_LEDGER,
    FINANCE_BUDGETS,
    FINANCE_POSTINGS,
    TICKS,
)
from shared.service.spec import ServiceSpec

from .settings import Settings

SPEC = ServiceSpec(
    name="budget",
    port=6065,
    summary="outcome against budget per cost centre, year-end forecast, overspend alerts",
    inputs=(FINANCE_BUDGETS, FINANCE_POSTINGS, TICKS, BUDGET_LEDGER, BUDGET_CENTRES),
    settings=Settings,
    app="services.budget.app:create_app",
)
