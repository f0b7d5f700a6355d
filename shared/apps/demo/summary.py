"""What the demo prints: a case officer's and a controller's view of the year, read from the topics."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from shared.contract.events import Envelope
from shared.kernel.money import to_tkr
from shared.kernel.swedish_time import swedish_year

MAIN_AREAS = {"kommunikation": "Kommunikation", "vard": "Vård och behandling",
              "organisation": "Organisation och tillgänglighet", "ekonomi": "Ekonomi",
              "administration": "Administrativ hantering", "ovrigt": "Övrigt", "other": "Övrigt"}


def summarise(events: dict[str, list[Envelope]], year: int) -> dict[str, Any]:
    """Pure: topic name → decoded events, to the figures the demo shows (the year's; the log also
    holds the years before it, counted per year for the trend)."""
    all_cases = [e.data for e in events.get("pn.cases.opened", [])]
    per_year = Counter(swedish_year(c.opened_at) for c in all_cases)
    cases = [c for c in all_cases if swedish_year(c.opened_at) == year]
    own = f"PN-{year}-"
    categories = Counter(c.categories[0].code if c.categories else "ovrigt" for c in cases)
    fees = [e.data for e in events.get("pn.fees.calculated", [])]
    payouts = [e.data for e in events.get("pn.fees.payouts", [])]
    invoices = [e.data for e in events.get("pn.billing.invoices", [])]
    per_region: dict[str, dict[str, Any]] = defaultdict(lambda: {"invoices": 0, "days": 0, "lines": Decimal(0),
                                                                 "credits": Decimal(0), "total": Decimal(0)})
    for inv in invoices:
        row = per_region[inv.home_region]
        row["invoices"] += 1
        row["days"] += sum(line.quantity for line in inv.lines)
        row["lines"] += sum((line.amount for line in inv.lines), Decimal(0))
        row["credits"] += sum((c.amount for c in inv.credits), Decimal(0))
        row["total"] += inv.total
    status: dict[str, Any] = {}
    for e in events.get("pn.budget.status", []):
        # keyed per cost centre and period (docs/topics.md): the latest month, then the last of it
        if e.data.year == year and (e.data.cost_centre not in status
                                    or e.data.period >= status[e.data.cost_centre].period):
            status[e.data.cost_centre] = e.data
    alerts: dict[str, Counter] = {"raised": Counter(), "resolved": Counter()}
    for name in ("pn.alerts.ops", "pn.alerts.budget"):
        for e in events.get(name, []):
            alerts["raised" if e.type == "pn.alert.raised" else "resolved"][e.data.rule_id] += 1
    diary = [e.data for e in events.get("pn.diary.entries", []) if e.data.case_id.startswith(own)]
    return {
        "cases": len(cases),
        "cases_by_channel": Counter(c.channel for c in cases),
        "cases_by_category": categories,
        "cases_by_main_area": Counter(MAIN_AREAS.get(code.split(".")[0], "Övrigt") for code in categories.elements()),
        "unresolved_units": sum(c.care_unit_status == "unresolved" for c in cases),
        "rejected": Counter(e.data.reason for e in events.get("pn.complaints.rejected", [])),
        "notifications": Counter(e.data.template for e in events.get("pn.notifications", [])
                                 if e.data.case_id.startswith(own)),
        "cases_per_year": dict(sorted(per_year.items())),
        "diary_entries": len(diary),
        "diary_by_kind": Counter(f"{d.direction}/{d.document_kind}" for d in diary),
        "diary_confidential": sum(d.confidential for d in diary),
        "letters_dispatched": len(events.get("pn.letters.dispatched", [])),
        "fees": len({f.visit_id for f in fees}),  # visits priced: a correction is a second fee of its visit
        "fee_total": sum((f.total for f in fees), Decimal(0)),
        "fees_rejected": Counter(e.data.reason for e in events.get("pn.fees.rejected", [])),
        "payouts": len(payouts),
        "payout_total": sum((p.total for p in payouts), Decimal(0)),
        "support_persons": len({f.support_person_id for f in fees}),
        "invoices": dict(sorted(per_region.items())),
        "budget": dict(sorted(status.items())),
        "economy": economy(status, events.get("pn.finance.postings", []), year),
        "alerts": alerts,
        "deadletters": Counter(e.data.source_topic for e in events.get("pn.deadletter", [])),
    }


def economy(status: dict[str, Any], postings: list[Envelope], year: int) -> dict[str, Any]:
    """The seed's figures beside the computed ones, per cost centre, and where each difference
    comes from: the services' own postings (fees, the nämnd's share of the invoices) and the seed
    rows the finance system leaves to them (shared/apps/demo/seed_jamtland.py)."""
    try:
        from shared.apps.demo.seed_jamtland import COST_CENTRES, PLATFORM_ROWS, ROWS, SEED_NET_TKR
    except ImportError:
        return {}
    platform: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for e in postings:
        if e.source.startswith("/pn/") and e.data.period.startswith(f"{year}-"):
            platform[(e.data.cost_centre, e.data.account_group)] += e.data.amount
    rows = []
    for cc in [*COST_CENTRES, "total"]:
        mine = [r for r in ROWS if cc in (r.cost_centre, "total")]
        seed_outcome = sum((r.outcome for r in mine), Decimal(0))
        seed_deviation = sum((r.deviation for r in mine), Decimal(0))
        st = status.get(cc)
        outcome = st.total.actual_ytd if st else Decimal(0)
        deviation = st.total.deviation if st else Decimal(0)
        why = []
        for (pcc, group), amount in sorted(platform.items()):
            if pcc in COST_CENTRES and cc in (pcc, "total"):
                source = "fees service: arvoden" if group == "fees" else (
                    "billing: the nämnd's share of the out-of-region invoices" if group == "revenue" else "platform")
                why.append((f"{pcc} {group}", amount, source))
        for r in mine:
            if (r.cost_centre, r.group) in PLATFORM_ROWS:
                why.append((f"{r.cost_centre} {r.group}", -r.outcome,
                            f"the seed's {r.seed_row} (Jämtland), left to the platform"))
        explained = sum((a for _, a, _ in why), Decimal(0))
        rows.append({"cost_centre": cc, "name": COST_CENTRES.get(cc, "Patientnämnden totalt"),
                     "seed_outcome": seed_outcome, "outcome": outcome, "seed_deviation": seed_deviation,
                     "deviation": deviation, "difference": outcome - seed_outcome, "why": why,
                     "unexplained": outcome - seed_outcome - explained})
    outside = {cc: a for (cc, _g), a in platform.items() if cc not in COST_CENTRES}
    return {"rows": rows, "previous_year_tkr": SEED_NET_TKR["previous_year"],
            "outside": {cc: sum((a for c, a in outside.items() if c == cc), Decimal(0)) for cc in outside}}


def _kr(value: Decimal) -> str:
    return f"{value:,.2f}".replace(",", " ")


def _tkr(value: Decimal) -> str:
    """Whole tkr, half away from zero as the seed rounds (shared.money.to_tkr)."""
    return f"{to_tkr(value):,.0f}".replace(",", " ")


def render(summary: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    def table(title: str, *columns: str) -> Table:
        t = Table(title=title, title_justify="left", title_style="bold")
        for i, c in enumerate(columns):
            t.add_column(c, justify="left" if i == 0 else "right")
        return t

    t = table(f"Ärenden (cases): {summary['cases']} opened, {summary['unresolved_units']} with unknown care unit",
              "category", "cases", "share")
    total = max(1, summary["cases"])
    for code, n in summary["cases_by_category"].most_common():
        t.add_row(code, str(n), f"{100 * n / total:.1f} %")
    console.print(t)
    console.print("cases per year (log): " + ", ".join(f"{y} {n}" for y, n in summary["cases_per_year"].items()))
    console.print("by channel: " + ", ".join(f"{k} {v}" for k, v in summary["cases_by_channel"].most_common())
                  + " · rejected: " + (", ".join(f"{k} {v}" for k, v in summary["rejected"].items()) or "none")
                  + " · notifications: " + ", ".join(f"{k} {v}" for k, v in summary["notifications"].items()))
    console.print(f"\n[bold]Diariet[/]: {summary['diary_entries']} entries ("
                  + ", ".join(f"{k} {v}" for k, v in sorted(summary["diary_by_kind"].items()))
                  + f"), {summary['diary_confidential']} confidential; {summary['letters_dispatched']} letters dispatched")
    console.print(f"\n[bold]Arvoden (fees)[/]: {summary['fees']} visits priced for {summary['support_persons']} support persons, "
                  f"{_kr(summary['fee_total'])} kr; rejected: "
                  + (", ".join(f"{k} {v}" for k, v in summary["fees_rejected"].items()) or "none")
                  + f"; {summary['payouts']} payouts, {_kr(summary['payout_total'])} kr")
    t = table("Fakturor (invoices) per home region", "home region", "invoices", "days", "lines kr", "credits kr", "total kr")
    days, amount = 0, Decimal(0)
    for region, row in summary["invoices"].items():
        days += row["days"]
        amount += row["lines"]
        t.add_row(region, str(row["invoices"]), str(row["days"]), _kr(row["lines"]), _kr(row["credits"]), _kr(row["total"]))
    console.print(t)
    console.print(f"billed care days {days} × 120.00 kr = {_kr(Decimal(days) * 120)} kr; invoice lines {_kr(amount)} kr")
    t = table("Budget (tkr) per cost centre", "cost centre", "budget ytd", "outcome ytd", "deviation", "run-rate forecast",
              "annual budget")
    for cc, st in summary["budget"].items():
        f = st.total
        t.add_row(cc, *(_tkr(v) for v in (f.budget_ytd, f.actual_ytd, f.deviation, f.forecast_run_rate, f.annual_budget)))
    console.print(t)
    eco = summary.get("economy") or {}
    if eco:
        t = table("Utfall (tkr): the seed's figure, the computed one and the difference", "cost centre",
                  "seed outcome", "outcome", "difference", "seed deviation", "deviation")
        for row in eco["rows"]:
            t.add_row(row["cost_centre"], *(_tkr(row[k]) for k in (
                "seed_outcome", "outcome", "difference", "seed_deviation", "deviation")))
        console.print(t)
        console.print("previous year's outcome (seed, Ack utfall fg år): "
                      + f"{eco['previous_year_tkr']:,} tkr".replace(",", " "))
        console.print("The finance system posts the seed's rows, fixed (shared/apps/demo/seed_jamtland.py); the "
                      "difference is what the services booked, less the seed rows left to them:")
        for row in eco["rows"]:
            if row["cost_centre"] == "total":
                continue
            for what, amount, source in row["why"]:
                console.print(f"  {what}: {_kr(amount)} kr — {source}")
            if row["unexplained"]:
                console.print(f"  {row['cost_centre']}: {_kr(row['unexplained'])} kr not explained by the platform's postings")
        for cc, amount in sorted(eco["outside"].items()):
            console.print(f"  {cc}: {_kr(amount)} kr invoice income of Hälso- och sjukvårdsförvaltningen, not the nämnd's"
                          " (rules/billing.yaml `revenue`; not counted by the budget monitor)")
    t = table("Alerts", "rule", "raised", "resolved")
    for rule in sorted(set(summary["alerts"]["raised"]) | set(summary["alerts"]["resolved"])):
        t.add_row(rule, str(summary["alerts"]["raised"][rule]), str(summary["alerts"]["resolved"][rule]))
    console.print(t)
    console.print("dead letters: " + (", ".join(f"{k} {v}" for k, v in summary["deadletters"].items()) or "none"))
