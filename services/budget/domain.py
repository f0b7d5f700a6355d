"""Every budget decision, pure: figures (outcome vs budget, deviation, two year-end forecasts),
whose cost centre counts, how a posting moves the sums, the total, which alert rule applies to
what and when an alert is raised or resolved. No I/O, clock or logging: handlers.py reads the
stores, calls these and writes what they return.

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
from typing import Any, NamedTuple

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
    """Stable per rule, subject and year: the raised and the resolved event carry the same id.
    (A business id published on pn.alerts.budget, not a store key; its store key is keys.alert.)"""
    return f"{rule_id}|{year}|{subject}"


# -- decisions of the handlers (pure: values in, values out) ---------------------------------------
TOTAL = "total"
"""The subject (and `cost_centre` of pn.budget.status) of the sum over every cost centre."""
ACCOUNT_GROUPS = ("revenue", "personnel", "fees", "other")
"""The account groups a cost centre can have a budget for (shared.contract.events.types.AccountGroup)."""

Change = tuple[str, str, int, int]
"""(period, account group, Δöre, Δpostings): one posting coming into (+1) or leaving (−1) a sum."""


def is_own_cost_centre(cc: str, own: frozenset[str] | None) -> bool:
    """The budget follows the nämnd's own cost centres only (PN_BUDGET_COST_CENTRES; None: every
    one). Another cost centre's budget or posting (the health-care administration's invoice
    income, its side of an internal transfer) is not the nämnd's: not counted, not in the total,
    no alert (docs/domain.md rule 8)."""
    return own is None or cc in own


class Counted(NamedTuple):
    """Where and how much a posting counts: its period's year, its period, group and amount
    (wire form, "-1234.50")."""

    year: int
    period: str
    group: str
    amount: str


def month_of(period: str) -> int:
    """The month (1..12) of a period `YYYY-MM`: a status's months elapsed (the total's = the
    latest month of its cost centres)."""
    return int(period[5:7])


def counted_as(period: str, group: str, amount: str) -> Counted:
    """A posting counts in the year of its period (`YYYY-MM`, the budget month: docs/domain.md)."""
    return Counted(int(period[:4]), period, group, amount)


def posting_changes(before: Counted | None, now: Counted) -> tuple[tuple[int, tuple[Change, ...]], ...]:
    """How a posting moves the year sums, per year in the order to apply: nothing when the same
    posting_id comes again with the same content (counted once); a new one comes into its year;
    the same posting_id with other content replaces the earlier (it leaves where it counted and
    comes in anew; two years when it moves across years, the old year first)."""
    if before == now:
        return ()
    into: Change = (now.period, now.group, ore(now.amount), 1)
    if before is None:
        return ((now.year, (into,)),)
    out_of: Change = (before.period, before.group, -ore(before.amount), -1)
    if before.year == now.year:
        return ((now.year, (out_of, into)),)
    return ((before.year, (out_of,)), (now.year, (into,)))


def apply_changes(sums: Mapping[str, Any], changes: Iterable[Change]) -> dict[str, Any]:
    """The year sums {"months": {MM: postings}, "groups": {group: [öre, postings]}} after the
    changes (a new dict): a month or group whose last posting left is dropped (a group then shows
    only if it has a budget; the current month is the latest month with a posting)."""
    months, groups = dict(sums["months"]), dict(sums["groups"])
    for period, group, amount, n in changes:
        month = period[5:7]
        left = months.get(month, 0) + n
        if left:
            months[month] = left
        else:
            del months[month]
        total, count = groups.get(group, (0, 0))
        if count + n:
            groups[group] = [total + amount, count + n]
        else:
            del groups[group]
    return {"months": months, "groups": groups}


def legacy_sums(buckets: Iterable[tuple[str, str, Mapping[str, str]]]) -> dict[str, Any]:
    """The year sums of the older layout's buckets (period, group, {posting_id: amount})."""
    months: dict[str, int] = {}
    groups: dict[str, list[int]] = {}
    for period, group, amounts in buckets:
        if amounts:
            months[period[5:7]] = months.get(period[5:7], 0) + len(amounts)
            total, count = groups.get(group, (0, 0))
            groups[group] = [total + sum(ore(a) for a in amounts.values()), count + len(amounts)]
    return {"months": months, "groups": groups}


class CentreFigures(NamedTuple):
    """A cost centre's year after its current month, in öre."""

    months: int  # months elapsed: the latest month with a posting
    period: str  # that month, `YYYY-MM`
    groups: dict[str, Ore]  # every group with a budget or postings, sorted
    budgeted: frozenset[str]  # the groups with a budget
    total: Ore


def centre_figures_ore(year: int, sums: Mapping[str, Any], budgets: Mapping[str, Sequence[str]]) -> CentreFigures | None:
    """`centre_figures` in öre from the year sums and the budgets (group → 12 monthly amounts, wire
    form); None before the year's first posting (there is no current month)."""
    if not sums["months"]:
        return None
    months = int(max(sums["months"]))
    actuals = sums["groups"]
    plans = {g: plan_ore(tuple(plan)) for g, plan in budgets.items()}
    figures = {g: group_figures_ore(plans.get(g, NO_PLAN), actuals[g][0] if g in actuals else 0, months)
               for g in sorted(plans.keys() | actuals.keys())}
    return CentreFigures(months, f"{year:04d}-{months:02d}", figures, frozenset(plans), sum_ore(figures.values()))


def ore_of(fig: Mapping[str, str]) -> Ore:
    """A figures dict as published ({field: "-1234.50"}) -> öre."""
    return tuple(ore(fig[name]) for name in FIELDS)  # type: ignore[return-value]


def total_figures(centres: Sequence[Mapping[str, Any]]) -> tuple[str, dict[str, Ore], Ore]:
    """The total of the year from the cost centres' latest statuses (as published): the field-wise
    sum per account group and overall (exact, in öre); its period = the latest of theirs."""
    groups: dict[str, list[Ore]] = {}
    for c in centres:
        for g, fig in c["account_groups"].items():
            groups.setdefault(g, []).append(ore_of(fig))
    figures = {g: sum_ore(parts) for g, parts in sorted(groups.items())}
    total = sum_ore(ore_of(c["total"]) for c in centres)
    return max(c["period"] for c in centres), figures, total


def centre_alert_targets(cc: str, figures: Mapping[str, Ore], total: Ore, budgeted: frozenset[str],
                         centre_rules: Iterable[Any], group_rules: Iterable[Any]) -> list[tuple[Any, Ore, str]]:
    """Which alert rule (rules/budget_alerts.yaml) is evaluated on which figures under which
    subject: none while the cost centre has no budget for the year (budgets and postings are two
    topics: nothing to compare with yet); each `cost_centre` rule on its total (subject the cost
    centre); each `account_group` rule on its group's figures if that group has a budget (subject
    "<cc>/<group>")."""
    if not budgeted:
        return []
    targets = [(rule, total, cc) for rule in centre_rules]
    for rule in group_rules:
        group = rule.params.account_group
        if group in budgeted:
            targets.append((rule, figures[group], f"{cc}/{group}"))
    return targets


def total_is_budgeted(total: Ore) -> bool:
    """The total's rules compare with a budget: none apply while the year's annual budget is 0."""
    return total[3] != 0


def alert_change(holds: bool, raised: bool) -> str | None:
    """Raise once when a rule becomes true, resolve once when it stops, nothing while unchanged:
    "raise", "resolve" or None."""
    if holds == raised:
        return None
    return "raise" if holds else "resolve"


def alert_facts(rule_facts: Mapping[str, Any], year: int, period: str) -> dict[str, Any]:
    """The `facts` an alert carries: every fact its rule can name, with the year and period."""
    return {**rule_facts, "year": year, "period": period}
