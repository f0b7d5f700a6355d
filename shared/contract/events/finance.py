"""Budgets and ledger postings (from the finance system, fees and billing) and budget status."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.contract.events.envelope import EventData, Part
from shared.contract.events.types import AccountGroup, CostCentre, Period
from shared.kernel.money import Money


class BudgetSet(EventData):
    event_type = "pn.budget.set"

    year: Annotated[int, Field(ge=2000, le=2100)]
    cost_centre: CostCentre
    account_group: AccountGroup
    monthly: Annotated[list[Money], Field(min_length=12, max_length=12)]


class LedgerPosted(EventData):
    event_type = "pn.ledger.posted"

    posting_id: Annotated[str, Field(min_length=1, max_length=200)]
    period: Period
    cost_centre: CostCentre
    account_group: AccountGroup
    amount: Money
    text: Annotated[str, Field(max_length=500)] = ""


class BudgetFigures(Part):
    budget_ytd: Money
    actual_ytd: Money
    deviation: Money
    annual_budget: Money
    forecast_run_rate: Money
    forecast_budget_rest: Money


class BudgetStatus(EventData):
    event_type = "pn.budget.status"

    year: int
    period: Period
    cost_centre: str  # a cost centre, or "total" for the sum over all of them
    account_groups: dict[str, BudgetFigures]
    total: BudgetFigures
