"""Pure budget figures: outcome vs budget, deviation and two year-end forecasts. No I/O.

Amounts are exact `Decimal` kr rounded to öre; revenue positive, costs negative, so
`deviation = actual − budget` is positive when the outcome is better than the budget.
Months elapsed = the month of the latest period with postings (the current period).
A total is the field-wise sum of its parts (groups of a cost centre, cost centres of the total).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal

from shared.money import ZERO, round_ore, to_ore

FIELDS = ("budget_ytd", "actual_ytd", "deviation", "annual_budget", "forecast_run_rate", "forecast_budget_rest")


@dataclass(frozen=True)
class Figures:
    budget_ytd: Decimal = ZERO
    actual_ytd: Decimal = ZERO
    deviation: Decimal = ZERO
    annual_budget: Decimal = ZERO
    forecast_run_rate: Decimal = ZERO
    forecast_budget_rest: Decimal = ZERO

    def __add__(self, other: Figures) -> Figures:
        return Figures(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def as_json(self) -> dict[str, str]:
        return {name: f"{getattr(self, name):.2f}" for name in FIELDS}

    @classmethod
    def from_json(cls, data: Mapping[str, str]) -> Figures:
        return cls(*(Decimal(data[name]) for name in FIELDS))


def group_figures(monthly_budget: Sequence[Decimal] | None, actual_ytd: Decimal, months: int) -> Figures:
    """One account group after `months` (1..12) months: `actual_ytd` is the sum of its postings."""
    if not 1 <= months <= 12:
        raise ValueError("months elapsed is 1..12")
    plan = [Decimal(m) for m in monthly_budget] if monthly_budget is not None else [ZERO] * 12
    budget_ytd = round_ore(sum(plan[:months], ZERO))
    actual = round_ore(actual_ytd)
    return Figures(
        budget_ytd=budget_ytd,
        actual_ytd=actual,
        deviation=actual - budget_ytd,
        annual_budget=round_ore(sum(plan, ZERO)),
        forecast_run_rate=round_ore(actual / months * 12),
        forecast_budget_rest=round_ore(actual + sum(plan[months:], ZERO)),
    )


def total_of(parts: Iterable[Figures]) -> Figures:
    total = Figures()
    for part in parts:
        total = total + part
    return total


def centre_figures(budgets: Mapping[str, Sequence[Decimal]], actuals: Mapping[str, Decimal],
                   months: int) -> tuple[dict[str, Figures], Figures]:
    """Per account group (every group with a budget or postings) and the cost centre's total."""
    groups = {g: group_figures(budgets.get(g), actuals.get(g, ZERO), months)
              for g in sorted(set(budgets) | set(actuals))}
    return groups, total_of(groups.values())


def months_elapsed(periods: Iterable[str]) -> int | None:
    """The current month (1..12) = the latest period with postings; None without postings."""
    months = [int(p[5:7]) for p in periods]
    return max(months) if months else None


# -- facts for the alert rules (ints in öre: durable-rules must never see a float) ---------------
def facts(fig: Figures, *, min_abs: Decimal = ZERO, pct: Decimal = ZERO, ratio_pct: Decimal = Decimal(100),
          months: int = 0) -> dict[str, int]:
    """The numbers a rule condition can name. From the rule's params:
    - margin_ore = deviation + max(min_abs, pct % of |budget_ytd|)  (< 0: the deficit is beyond tolerance)
    - ratio_gap_ore = actual_ytd − ratio_pct % of budget_ytd        (< 0: below that share of budget)
    """
    tolerance = max(min_abs, abs(fig.budget_ytd) * pct / 100)
    return {
        "budget_ytd_ore": to_ore(fig.budget_ytd),
        "actual_ytd_ore": to_ore(fig.actual_ytd),
        "deviation_ore": to_ore(fig.deviation),
        "annual_budget_ore": to_ore(fig.annual_budget),
        "forecast_run_rate_ore": to_ore(fig.forecast_run_rate),
        "forecast_budget_rest_ore": to_ore(fig.forecast_budget_rest),
        "forecast_gap_ore": to_ore(fig.forecast_run_rate - fig.annual_budget),
        "forecast_rest_gap_ore": to_ore(fig.forecast_budget_rest - fig.annual_budget),
        "margin_ore": to_ore(fig.deviation + tolerance),
        "ratio_gap_ore": to_ore(fig.actual_ytd - fig.budget_ytd * ratio_pct / 100),
        "months_elapsed": months,
    }


FACT_NAMES = frozenset(facts(Figures()))


def alert_id(rule_id: str, year: int, subject: str) -> str:
    """Stable per rule, subject and year: the raised and the resolved event carry the same id."""
    return f"{rule_id}|{year}|{subject}"
