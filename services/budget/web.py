"""`GET /budget/{year}` (role officer): the status of every cost centre and the total, as published."""

from __future__ import annotations

from typing import Any

from shared.service.state import Store
from shared.web.gate import WebRequest, year_param
from shared.web.openapi import YEAR, ViewDoc

from . import keys


def budget_view(ledger: Store, totals: Store, year: int) -> dict[str, Any]:
    """The stored statuses are the very payloads published on pn.budget.status. `ledger` spans all
    partitions only with one worker (docs/budget.md); `totals` is one partition."""
    centres = sorted((s for _, s in ledger.items_with_prefix(keys.centre_statuses(year))), key=lambda s: s["cost_centre"])
    return {"year": year, "cost_centres": centres, "total": totals.get(keys.total_status(year))}


def register(runtime: Any, *, ledger: Store, totals: Store) -> None:
    async def view(req: WebRequest) -> dict[str, Any]:
        return budget_view(ledger, totals, year_param(req.params.get("year")))

    runtime.route("GET", "/budget/{year}", view, role="officer", doc=ViewDoc(
        "Status of every cost centre and the total, as published", path={"year": YEAR}))
