"""`GET /billing/summary?year=2024` (role officer): billed days and amounts per home region and month."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from shared.kernel.money import ZERO, money_str
from shared.service.state import Store
from shared.web.gate import WebRequest, year_param
from shared.web.openapi import YEAR, ViewDoc

from . import keys


def summarise(issued: Iterable[Mapping[str, Any]], year: int) -> dict[str, Any]:
    """Per home region and invoice period: days billed, amount billed, credits, net, invoice numbers."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for inv in issued:
        if not inv["period"].startswith(f"{year:04d}-"):
            continue
        row = rows.setdefault((inv["home_region"], inv["period"]), {
            "home_region": inv["home_region"], "period": inv["period"], "days": 0,
            "amount": ZERO, "credits": ZERO, "invoices": []})
        row["days"] += sum(line["quantity"] for line in inv["lines"])
        row["amount"] += sum((Decimal(line["amount"]) for line in inv["lines"]), ZERO)
        row["credits"] += sum((Decimal(c["amount"]) for c in inv["credits"]), ZERO)
        row["invoices"].append(inv["invoice_number"])
    out = []
    for _, row in sorted(rows.items()):
        net = row["amount"] - row["credits"]
        out.append({**row, "amount": money_str(row["amount"]), "credits": money_str(row["credits"]),
                    "net": money_str(net)})
    total = sum((Decimal(r["net"]) for r in out), ZERO)
    return {"year": year, "rows": out, "days": sum(r["days"] for r in out), "net": money_str(total)}


def issued_invoices(issued: Store, invoices: Store) -> Iterable[Mapping[str, Any]]:
    """Every issued invoice, from `issued`: a global store, so every worker answers the same
    whatever partitions it holds (docs/billing.md, "Several workers"). A period and region whose
    last invoice came before `issued` existed comes from `invoices`, the one-partition state
    (complete on the worker that holds pn.billing.drafts, as every worker did before)."""
    by_key = dict(invoices.items_with_prefix(keys.ISSUED))
    by_key.update(issued.items_with_prefix(keys.ISSUED))
    return (inv for _, invs in sorted(by_key.items()) for inv in invs)


def register(runtime: Any, *, issued: Store, invoices: Store) -> None:
    async def summary(req: WebRequest) -> dict[str, Any]:
        return summarise(issued_invoices(issued, invoices), year_param(req.query.get("year")))

    runtime.route("GET", "/billing/summary", summary, role="officer", doc=ViewDoc(
        "Billed days and amounts per home region and month", query={"year": YEAR}, required=("year",)))
