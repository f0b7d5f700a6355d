"""`GET /fees/summary?year=2023` (role officer): fees and payouts per month.

Everything it shows is in the `persons` store (each fee, with the period it was drafted for
payout at, and each partition's closes), which is partitioned by support person: a worker answers
for its own partitions and the runtime merges every worker's answer (`spread="all"`,
shared/runtime/views.py), so the view answers the same with one worker or N."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shared.kernel.money import ZERO, money_str
from shared.service.state import Store
from shared.web.gate import WebRequest, year_param
from shared.web.openapi import YEAR, ViewDoc

from . import keys


def summarise(fees: Store, year: int) -> dict[str, Any]:
    """This worker's part: per month its fees (corrections included), their total, the fees drafted
    for payout at that month's close, and whether the month was closed."""
    prefix = f"{year:04d}-"
    months: dict[str, dict[str, Any]] = {}

    def month(period: str) -> dict[str, Any]:
        return months.setdefault(period, {"period": period, "fees": 0, "fee_total": ZERO, "paid_fees": 0,
                                          "closed": False})

    for _, fee in fees.items_with_prefix(keys.FEES):
        if fee["period"].startswith(prefix):
            row = month(fee["period"])
            row["fees"] += 1
            row["fee_total"] += Decimal(fee["taxable"]) + Decimal(fee["tax_free"])
        drafted = fee.get("drafted")
        if drafted and drafted.startswith(prefix):
            month(drafted)["paid_fees"] += 1
    for key, _ in fees.items_with_prefix(keys.CLOSED):
        period = keys.closed_period(key)
        if period.startswith(prefix):
            month(period)["closed"] = True
    rows = [{**r, "fee_total": money_str(r["fee_total"])} for _, r in sorted(months.items())]
    return {"year": year, "months": rows}


def merge(bodies: list[dict[str, Any]]) -> dict[str, Any]:
    """Every worker's part as one answer: counts and totals added, a month closed when it was
    closed on any partition (a close reaches every partition)."""
    months: dict[str, dict[str, Any]] = {}
    for body in bodies:
        for row in body["months"]:
            into = months.setdefault(row["period"], {"period": row["period"], "fees": 0, "fee_total": ZERO,
                                                     "paid_fees": 0, "closed": False})
            into["fees"] += row["fees"]
            into["fee_total"] += Decimal(row["fee_total"])
            into["paid_fees"] += row["paid_fees"]
            into["closed"] = into["closed"] or row["closed"]
    rows = [{**r, "fee_total": money_str(r["fee_total"])} for _, r in sorted(months.items())]
    return {"year": bodies[0]["year"], "months": rows}


def register(runtime: Any, *, fees: Store) -> None:
    async def summary(req: WebRequest) -> dict[str, Any]:
        return summarise(fees, year_param(req.query.get("year")))

    runtime.route("GET", "/fees/summary", summary, role="officer", spread="all", merge=merge, doc=ViewDoc(
        "Fees and payouts per month", query={"year": YEAR}, required=("year",)))
