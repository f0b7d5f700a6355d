"""Pure budget figures: outcome vs budget, deviation and two year-end forecasts. No I/O.

Amounts are exact `Decimal` kr rounded to öre; revenue positive, costs negative, so
`deviation = actual − budget` is positive when the outcome is better than the budget.
Months elapsed = the month of the latest period with postings (the current period).
A total is the field-wise sum of its parts (groups of a cost centre, cost centres of the total).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from functools import lru_cache

from shared.kernel.money import ZERO, round_ore, to_ore

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


# -- the same figures in integer öre (the per-posting path: exact, no Decimal, no quantize) -------
Ore = tuple[int, int, int, int, int, int]
"""The six figures of `FIELDS`, in öre."""
NO_PLAN = (0,) * 13
LIMIT_ORE = 10**14
"""1,000,000,000,000 kr: a figure this large fails the output model's Money validation."""


def ore(amount: str) -> int:
    """The öre of an amount in the wire form `money_str` writes ("-1234.50" -> -123450)."""
    if amount[-3:-2] == ".":
        return int(amount[:-3] + amount[-2:])
    return to_ore(Decimal(amount))


def kr(value: int) -> str:
    """Öre -> the wire form ("-1234.50"), as `f"{round_ore(d):.2f}"` writes the same amount."""
    whole, cents = divmod(-value if value < 0 else value, 100)
    return f"{'-' if value < 0 else ''}{whole}.{cents:02d}"


@lru_cache(maxsize=4096)
def plan_ore(monthly: tuple[str, ...]) -> tuple[int, ...]:
    """Cumulative budget in öre: element m = months 1..m (element 0 = 0, element 12 = the year)."""
    cumulative = [0]
    for month in monthly:
        cumulative.append(cumulative[-1] + ore(month))
    return tuple(cumulative)


def _div_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half away from zero (Decimal's ROUND_HALF_UP), denominator > 0."""
    q, r = divmod(abs(numerator), denominator)
    q += 2 * r >= denominator
    return -q if numerator < 0 else q


def group_figures_ore(plan: tuple[int, ...], actual_ytd: int, months: int) -> Ore:
    """`group_figures` in öre, from a `plan_ore` (NO_PLAN without a budget). Equal to it for every
    input (tests/unit/budget/test_domain.py): the sums are exact, and the run rate actual/m×12 is
    rounded half up from the exact quotient, which is what the 28-digit Decimal quotient rounds to
    (a tie is only possible for m = 8, where the Decimal quotient is exact)."""
    if not 1 <= months <= 12:
        raise ValueError("months elapsed is 1..12")
    budget_ytd, annual = plan[months], plan[12]
    return (budget_ytd, actual_ytd, actual_ytd - budget_ytd, annual, _div_half_up(actual_ytd * 12, months),
            actual_ytd + annual - budget_ytd)


def sum_ore(parts: Iterable[Ore]) -> Ore:
    b = a = d = y = r = f = 0
    for pb, pa, pd, py, pr, pf in parts:
        b, a, d, y, r, f = b + pb, a + pa, d + pd, y + py, r + pr, f + pf
    return b, a, d, y, r, f


def figures_of(values: Ore) -> Figures:
    """Öre -> `Figures` (Decimal kr, two decimals), for the rare paths that need them (alert texts)."""
    return Figures(*(Decimal(kr(v)) for v in values))


def fact_ore(name: str, fig: Ore, months: int, *, min_abs: Decimal = ZERO, pct: Decimal = ZERO,
             ratio_pct: Decimal = Decimal(100)) -> int:
    """One fact of `facts`, from öre figures: the plain ones in int arithmetic, the two with a
    percentage through the very Decimal expression of `facts`."""
    if name == "margin_ore":
        tolerance = max(min_abs, abs(Decimal(fig[0]).scaleb(-2)) * pct / 100)
        return to_ore(Decimal(fig[2]).scaleb(-2) + tolerance)
    if name == "ratio_gap_ore":
        return to_ore(Decimal(fig[1]).scaleb(-2) - Decimal(fig[0]).scaleb(-2) * ratio_pct / 100)
    if name == "months_elapsed":
        return months
    return _PLAIN_FACTS[name](fig)


_PLAIN_FACTS: dict[str, Callable[[Ore], int]] = {
    "budget_ytd_ore": lambda f: f[0],
    "actual_ytd_ore": lambda f: f[1],
    "deviation_ore": lambda f: f[2],
    "annual_budget_ore": lambda f: f[3],
    "forecast_run_rate_ore": lambda f: f[4],
    "forecast_budget_rest_ore": lambda f: f[5],
    "forecast_gap_ore": lambda f: f[4] - f[3],
    "forecast_rest_gap_ore": lambda f: f[5] - f[3],
}


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
