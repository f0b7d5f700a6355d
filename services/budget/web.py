"""`GET /budget/{year}` (role officer): the status of every cost centre and the total, as published."""

from __future__ import annotations

from typing import Any

from shared.service.state import Store
from shared.web.gate import WebRequest, year_param
from shared.web.openapi import YEAR, ViewDoc

from . import keys


def budget_view(published: Store, totals: Store, year: int) -> dict[str, Any]:
    """The very payloads published on pn.budget.status (each cost centre's latest, and the total),
    from `published`: a global store, so every worker answers the same whatever partitions it
    holds (docs/budget.md, "Several workers"). A status not (yet) in it, one last changed before
    `published` existed, comes from `totals`, the one-partition state beside it (complete on the
    worker that holds pn.budget.centres, as every worker did before)."""
    prefix = keys.centre_latests(year)
    centres = {s["cost_centre"]: s for _, s in totals.items_with_prefix(prefix)}
    centres.update({s["cost_centre"]: s for _, s in published.items_with_prefix(prefix)})
    total = published.get(keys.total_status(year)) or totals.get(keys.total_status(year))
    return {"year": year, "cost_centres": [centres[cc] for cc in sorted(centres)], "total": total}


def register(runtime: Any, *, published: Store, totals: Store) -> None:
    async def view(req: WebRequest) -> dict[str, Any]:
        return budget_view(published, totals, year_param(req.params.get("year")))

    runtime.route("GET", "/budget/{year}", view, role="officer", doc=ViewDoc(
        "Status of every cost centre and the total, as published", path={"year": YEAR}))
