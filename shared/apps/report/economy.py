"""The economy as the board reads it: tkr, the account rows of the annual report, per cost centre.

The seed's table "Intäkter och kostnader i tkr" (Jämtland 2023) has the columns accumulated
outcome, accumulated budget, deviation (outcome − budget), outcome of the previous year and the
change against it; its rows are Försäljning, Personalkostnader, Verksamhetsanknutna tjänster,
Övriga kostnader, Summa bruttokostnader and Nettokostnader. Each cell is the exact kr figure
rounded to whole tkr half away from zero (−3 278 500 kr is −3 279 tkr, as the seed prints it), so
a sum row is rounded from its own kr sum, not summed from rounded cells. Revenue is positive,
costs negative (the budget service's convention, docs/budget.md).

The figures come from `pn.budget.status`: for a period the latest status of each cost centre in
the period's year up to its last month (a quarter's report has the accumulated figures of its last
month), and the same month a year earlier for the previous year's column.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# (row key, label); the account groups of the contract map onto them (GROUP_ROW)
ROWS = (("forsaljning", "Försäljning"), ("personal", "Personalkostnader"),
        ("tjanster", "Verksamhetsanknutna tjänster"), ("ovriga", "Övriga kostnader"),
        ("brutto", "Summa bruttokostnader"), ("netto", "Nettokostnader"))
GROUP_ROW = {"revenue": "forsaljning", "personnel": "personal", "fees": "personal", "services": "tjanster",
             "other": "ovriga"}
"""Support persons' fees (arvoden) are personnel costs, as in the seed's table; an account group the
report does not know counts under Övriga kostnader."""
COST_ROWS = ("personal", "tjanster", "ovriga")
COLUMNS = (("actual", "Ack. utfall"), ("budget", "Ack. budget"), ("deviation", "Avvikelse utfall − budget"),
           ("previous_year", "Ack. utfall fg. år"), ("change", "Förändring mot fg. år"))
FORECAST_COLUMNS = (("annual_budget", "Årsbudget"), ("forecast_run_rate", "Prognos enligt utfallstakt"),
                    ("forecast_budget_rest", "Prognos utfall + budget resten"),
                    ("forecast_deviation", "Prognos mot årsbudget"))
FIELDS = {"actual": "actual_ytd", "budget": "budget_ytd", "annual_budget": "annual_budget",
          "forecast_run_rate": "forecast_run_rate", "forecast_budget_rest": "forecast_budget_rest"}


def tkr(kr: Decimal | None) -> int | None:
    """Whole tkr, half away from zero (the seed's rounding); None stays None."""
    if kr is None:
        return None
    return int((Decimal(kr) / 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def latest_status(statuses: Iterable[Any], year: int, last_month: str) -> dict[str, Any]:
    """The latest status per cost centre of `year` up to `last_month` (YYYY-MM); of two statuses of
    the same month the later one in the log wins (a recomputation after a late posting)."""
    latest: dict[str, Any] = {}
    for s in statuses:
        if s.year != year or not (f"{year}-01" <= s.period <= last_month):
            continue
        if s.cost_centre not in latest or s.period >= latest[s.cost_centre].period:
            latest[s.cost_centre] = s
    return latest


def account_rows(status: Any | None, field: str) -> dict[str, Decimal] | None:
    """kr per account row of one status for one figure (`actual_ytd`, `budget_ytd`, ...)."""
    if status is None:
        return None
    rows = {key: Decimal(0) for key, _ in ROWS}
    for group, figures in status.account_groups.items():
        rows[GROUP_ROW.get(group, "ovriga")] += getattr(figures, field)
    rows["brutto"] = sum((rows[k] for k in COST_ROWS), Decimal(0))
    rows["netto"] = rows["forsaljning"] + rows["brutto"]
    return rows


def centre_rows(current: Any | None, previous: Any | None) -> list[dict[str, Any]]:
    """The seed's table for one cost centre (or the total): one row per account row, tkr."""
    actual, budget = account_rows(current, "actual_ytd"), account_rows(current, "budget_ytd")
    before = account_rows(previous, "actual_ytd")
    out = []
    for key, label in ROWS:
        a = actual[key] if actual else None
        b = budget[key] if budget else None
        p = before[key] if before else None
        out.append({"measure": key, "label": label, "actual": tkr(a), "budget": tkr(b),
                    "deviation": tkr(a - b) if a is not None and b is not None else None,
                    "previous_year": tkr(p), "change": tkr(a - p) if a is not None and p is not None else None})
    return out


def forecast_row(status: Any | None) -> dict[str, Any]:
    if status is None:
        return {k: None for k, _ in FORECAST_COLUMNS}
    t = status.total
    return {"annual_budget": tkr(t.annual_budget), "forecast_run_rate": tkr(t.forecast_run_rate),
            "forecast_budget_rest": tkr(t.forecast_budget_rest),
            "forecast_deviation": tkr(t.forecast_run_rate - t.annual_budget)}


def economy(statuses: list[Any], year: int, last_month: str, names: Mapping[str, str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str | None]:
    """(account rows per cost centre and total, forecast per cost centre and total, the month of the
    figures) for the period ending `last_month` of `year`; the previous year's column from the same
    month a year earlier. Cost centres in code order, the total last."""
    from shared.apps.report.names import cost_centre_name

    now = latest_status(statuses, year, last_month)
    before = latest_status(statuses, year - 1, f"{year - 1}{last_month[4:]}")
    centres = sorted(set(now) | set(before), key=lambda cc: (cc == "total", cc))
    rows, forecast = [], []
    for cc in centres:
        name = cost_centre_name(cc, names)
        for r in centre_rows(now.get(cc), before.get(cc)):
            rows.append({"key": cc, "cost_centre": name, **r})
        forecast.append({"key": cc, "label": name, **forecast_row(now.get(cc))})
    month = max((s.period for s in now.values()), default=None)
    return rows, forecast, month
