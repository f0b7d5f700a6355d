"""`GET /fees/summary?year=2023` (role officer): fees and payouts per month."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shared.kernel.money import ZERO, money_str
from shared.service.state import Store
from shared.web.gate import WebRequest, year_param
from shared.web.openapi import YEAR, ViewDoc

from . import keys


def summarise(fees: Store, books: Store, year: int) -> dict[str, Any]:
    prefix = f"{year:04d}-"
    months: dict[str, dict[str, Any]] = {}

    def month(period: str) -> dict[str, Any]:
        return months.setdefault(period, {"period": period, "fees": 0, "fee_total": ZERO, "paid_fees": 0})

    for _, fee in fees.items_with_prefix(keys.FEES):
        if fee["period"].startswith(prefix):
            row = month(fee["period"])
            row["fees"] += 1
            row["fee_total"] += Decimal(fee["taxable"]) + Decimal(fee["tax_free"])
    for _, payout in books.items_with_prefix(keys.ISSUED):
        if payout["period"].startswith(prefix):
            month(payout["period"])["paid_fees"] += len(payout["fee_ids"])
    rows = [{**r, "fee_total": money_str(r["fee_total"]), "closed": keys.closed(p) in books}
            for p, r in sorted(months.items())]
    return {"year": year, "months": rows}


def register(runtime: Any, *, fees: Store, books: Store) -> None:
    async def summary(req: WebRequest) -> dict[str, Any]:
        return summarise(fees, books, year_param(req.query.get("year")))

    runtime.route("GET", "/fees/summary", summary, role="officer", doc=ViewDoc(
        "Fees and payouts per month", query={"year": YEAR}, required=("year",)))
