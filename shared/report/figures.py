"""Pure figure functions: decoded events in, the report's figures out. No I/O, no clock.

Periods are in Swedish time (Europe/Stockholm): an event belongs to the period that contains its
local date. Each section holds rows of {key, label, current, previous, year_before}; counts pass
through the privacy rule (`privacy.mask`) before they reach a row.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from .privacy import mask, mask_with

STOCKHOLM = ZoneInfo("Europe/Stockholm")
ZERO = Decimal("0.00")
TOP_N = 10
REST = "rest"
UNKNOWN = "unknown"
SPIKE_RULE_MARK = "spike"

MAIN_AREAS = {
    "vard": "Vård och behandling",
    "kommunikation": "Kommunikation",
    "organisation": "Organisation och tillgänglighet",
    "ekonomi": "Ekonomi",
    "administration": "Administrativ hantering",
    "ovrigt": "Övrigt",
}
SUB_AREAS = {
    "vard.undersokning": "Undersökning/bedömning", "vard.diagnos": "Diagnos", "vard.behandling": "Behandling",
    "vard.omvardnad": "Omvårdnad", "vard.lakemedel": "Läkemedel",
    "kommunikation.bemotande": "Bemötande", "kommunikation.information": "Information",
    "kommunikation.delaktighet": "Delaktighet", "organisation.tillganglighet": "Tillgänglighet",
    "organisation.vardansvar": "Vårdansvar och organisation", "ekonomi.patientavgift": "Patientavgifter",
    "ekonomi.ersattning": "Ersättning", "administration.journalhantering": "Journalhantering",
    "administration.intyg": "Intyg", "administration.sekretess": "Sekretess", "ovrigt": "Övrigt",
}
CHANNELS = {"1177": "1177", "phone": "Telefon", "letter": "Brev", "email": "E-post", "visit": "Besök"}
COLUMNS = ("current", "previous", "year_before")


class NoDataError(ValueError):
    """The period has no events on the report's topics."""


# -- periods ---------------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class Period:
    year: int
    quarter: int | None = None  # None: the whole year

    @property
    def first(self) -> date:
        return date(self.year, 1 if self.quarter is None else 3 * self.quarter - 2, 1)

    @property
    def last(self) -> date:
        if self.quarter is None or self.quarter == 4:
            return date(self.year, 12, 31)
        return date(self.year, 3 * self.quarter + 1, 1) - timedelta(days=1)

    def __str__(self) -> str:
        return str(self.year) if self.quarter is None else f"{self.year}-Q{self.quarter}"

    def contains(self, day: date) -> bool:
        return self.first <= day <= self.last

    def contains_month(self, period: str) -> bool:
        """A `YYYY-MM` period (invoices, payouts, budget status) within this period."""
        return self.contains(date(int(period[:4]), int(period[5:7]), 1))

    def previous(self) -> Period:
        if self.quarter is None:
            return Period(self.year - 1)
        return Period(self.year, self.quarter - 1) if self.quarter > 1 else Period(self.year - 1, 4)

    def year_before(self) -> Period:
        return Period(self.year - 1, self.quarter)

    @property
    def last_month(self) -> str:
        return f"{self.last.year}-{self.last.month:02d}"


_PERIOD = re.compile(r"^(\d{4})(?:-Q([1-4]))?$")


def parse_period(text: str) -> Period:
    """`2023` or `2023-Q3` (case-insensitive q); ValueError otherwise."""
    m = _PERIOD.match(text.strip().upper())
    if not m:
        raise ValueError(f"period must be a year (2023) or a quarter (2023-Q3), not {text!r}")
    return Period(int(m.group(1)), int(m.group(2)) if m.group(2) else None)


def local_date(at: datetime) -> date:
    """The Swedish calendar date of a timestamp (naive timestamps are taken as UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(STOCKHOLM).date()


# -- the events a report reads -----------------------------------------------------------------------
@dataclass
class Inputs:
    """Decoded events by type (envelopes' data only), as `collect` sorts them."""

    cases: list[Any]
    diary: list[Any]
    dispatched: list[Any]
    fees: list[tuple[Any, date]]  # (FeeCalculated, the date it counts on)
    payouts: list[Any]
    invoices: list[Any]
    budget: list[Any]
    alerts_raised: list[tuple[Any, str]]  # (AlertRaised, topic kind "budget"/"ops")
    alerts_resolved: list[tuple[Any, str]]


def collect(events: Iterable[Any]) -> Inputs:
    """Sort envelopes by type; the same event id twice counts once (the contract's idempotency key)."""
    ins = Inputs([], [], [], [], [], [], [], [], [])
    seen: set[tuple[str, str]] = set()
    for ev in events:
        key = (ev.type, ev.id)
        if key in seen:
            continue
        seen.add(key)
        d, t = ev.data, ev.type
        if t == "pn.case.opened":
            ins.cases.append(d)
        elif t == "pn.diary.registered":
            ins.diary.append(d)
        elif t == "pn.letter.dispatched":
            ins.dispatched.append(d)
        elif t == "pn.fee.calculated":
            ins.fees.append((d, d.visit_date or local_date(ev.time)))
        elif t == "pn.fee.payout":
            ins.payouts.append(d)
        elif t == "pn.invoice.issued":
            ins.invoices.append(d)
        elif t == "pn.budget.status":
            ins.budget.append(d)
        elif t == "pn.alert.raised":
            ins.alerts_raised.append((d, _alert_kind(d.rule_id)))
        elif t == "pn.alert.resolved":
            ins.alerts_resolved.append((d, _alert_kind(d.rule_id)))
    return ins


def _alert_kind(rule_id: str) -> str:
    return "budget" if rule_id.startswith("budget.") else "ops"


# -- figure functions (one period each) ----------------------------------------------------------------
def cases_in(cases: Iterable[Any], period: Period) -> list[Any]:
    return [c for c in cases if period.contains(local_date(c.opened_at))]


def main_area(code: str) -> str:
    head = code.split(".", 1)[0]
    return "ovrigt" if head in ("other", "ovrigt", "övrigt") or head not in MAIN_AREAS else head


def sub_area(code: str) -> str:
    return "ovrigt" if main_area(code) == "ovrigt" else code


def count_by_channel(cases: Iterable[Any]) -> Counter:
    return Counter(c.channel for c in cases)


def count_by_main_area(cases: Iterable[Any]) -> Counter:
    """Cases per main area; a case with categories in two areas counts once in each."""
    return Counter(a for c in cases for a in {main_area(ref.code) for ref in c.categories} or {"ovrigt"})


def count_by_sub_area(cases: Iterable[Any]) -> Counter:
    return Counter(s for c in cases for s in {sub_area(ref.code) for ref in c.categories} or {"ovrigt"})


def count_by_provider(cases: Iterable[Any]) -> Counter:
    return Counter(c.care_provider or UNKNOWN for c in cases)


def count_by_unit(cases: Iterable[Any]) -> Counter:
    return Counter(c.care_unit_hsa_id or UNKNOWN for c in cases)


def top_with_rest(counts: Counter, keys: Iterable[str] | None = None, n: int = TOP_N) -> dict[str, int]:
    """The `n` largest (or the given keys) and everything else summed under "rest"."""
    chosen = list(keys) if keys is not None else [k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]
    out = {k: counts.get(k, 0) for k in chosen}
    out[REST] = sum(v for k, v in counts.items() if k not in out)
    return out


def reply_days(diary: Iterable[Any], period: Period) -> list[int]:
    """Days from the complaint's registration to the first incoming letter (the provider's reply)
    per case, for replies registered within the period."""
    complaint: dict[str, datetime] = {}
    replies: dict[str, list[datetime]] = defaultdict(list)
    for e in diary:
        if e.document_kind == "complaint":
            complaint[e.case_id] = min(complaint.get(e.case_id, e.registered_at), e.registered_at)
        elif e.direction == "in" and e.document_kind == "letter":
            replies[e.case_id].append(e.registered_at)
    days = []
    for case_id, at in complaint.items():
        later = [r for r in replies.get(case_id, ()) if r >= at]
        if later:
            first = min(later)
            if period.contains(local_date(first)):
                days.append((local_date(first) - local_date(at)).days)
    return days


def median(values: list[int]) -> float | None:
    return float(statistics.median(values)) if values else None


def letters(diary: Iterable[Any], dispatched: Iterable[Any], period: Period) -> dict[str, int]:
    entries = [e for e in diary if period.contains(local_date(e.registered_at))]
    return {
        "complaints_registered": sum(1 for e in entries if e.document_kind == "complaint"),
        "letters_registered_in": sum(1 for e in entries if e.document_kind == "letter" and e.direction == "in"),
        "letters_registered_out": sum(1 for e in entries if e.document_kind == "letter" and e.direction == "out"),
        "letters_dispatched": sum(1 for d in dispatched if period.contains(local_date(d.dispatched_at))),
    }


def support(fees: Iterable[tuple[Any, date]], payouts: Iterable[Any], period: Period) -> dict[str, Any]:
    fs = [f for f, day in fees if period.contains(day)]
    ps = [p for p in payouts if period.contains_month(p.period)]
    return {
        "support_persons_active": len({f.support_person_id for f in fs}),
        "visits": len({f.visit_id for f in fs}),
        "fees_total": sum((f.total for f in fs), ZERO),
        "payouts": len(ps),
        "payouts_total": sum((p.total for p in ps), ZERO),
    }


def out_of_region(invoices: Iterable[Any], period: Period) -> dict[str, dict[str, Any]]:
    """Per home region: care days invoiced, days credited, and the invoiced net amount."""
    out: dict[str, dict[str, Any]] = {}
    for inv in invoices:
        if not period.contains_month(inv.period):
            continue
        row = out.setdefault(inv.home_region, {"care_days": 0, "credited_days": 0, "amount": ZERO})
        row["care_days"] += sum(line.quantity for line in inv.lines)
        row["credited_days"] += len(inv.credits)
        row["amount"] += inv.total
    return out


def budget(statuses: Iterable[Any], period: Period) -> dict[str, Any]:
    """The latest status per cost centre within the period (its year, month <= the period's last)."""
    latest: dict[str, Any] = {}
    for s in statuses:
        if s.year != period.year or not (period.first.strftime("%Y-01") <= s.period <= period.last_month):
            continue
        if s.cost_centre not in latest or s.period >= latest[s.cost_centre].period:
            latest[s.cost_centre] = s
    return latest


def alerts(raised: Iterable[tuple[Any, str]], resolved: Iterable[tuple[Any, str]], period: Period,
           keep: Callable[[Any, str], bool]) -> dict[str, dict[str, int]]:
    """Alerts raised and resolved within the period, per rule id."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"raised": 0, "resolved": 0})
    for a, kind in raised:
        if keep(a, kind) and period.contains(local_date(a.raised_at)):
            out[a.rule_id]["raised"] += 1
    for a, kind in resolved:
        at = a.resolved_at or a.raised_at
        if keep(a, kind) and period.contains(local_date(at)):
            out[a.rule_id]["resolved"] += 1
    return dict(out)


def is_spike(alert: Any, kind: str) -> bool:
    return SPIKE_RULE_MARK in alert.rule_id


def is_budget(alert: Any, kind: str) -> bool:
    return kind == "budget"


def yearly_trend(cases: Iterable[Any], last_year: int, years: int = 6) -> dict[int, int]:
    counts = Counter(local_date(c.opened_at).year for c in cases)
    return {y: counts.get(y, 0) for y in range(last_year - years + 1, last_year + 1)}


def has_data(ins: Inputs, period: Period) -> bool:
    return bool(cases_in(ins.cases, period)
                or any(period.contains(local_date(e.registered_at)) for e in ins.diary)
                or any(period.contains(day) for _, day in ins.fees)
                or any(period.contains_month(i.period) for i in ins.invoices)
                or budget(ins.budget, period))


# -- the report --------------------------------------------------------------------------------------
def _money(v: Decimal | None) -> str | None:
    return None if v is None else str(Decimal(v).quantize(Decimal("0.01")))


def _count_rows(per: dict[str, dict[str, int]], labels: dict[str, str] | None = None,
                order: list[str] | None = None) -> list[dict[str, Any]]:
    keys = order if order is not None else sorted(per["current"], key=lambda k: (-per["current"][k], k))
    return [{"key": k, "label": (labels or {}).get(k, k), **{c: mask(per[c].get(k, 0)) for c in COLUMNS}}
            for k in keys]


def _with_share(rows: list[dict[str, Any]], per: dict[str, Counter], totals: dict[str, int]) -> list[dict[str, Any]]:
    """Adds `share`: percent of the current period's cases (one decimal), hidden with a small count."""
    for r in rows:
        n, total = per["current"].get(r["key"], 0), totals["current"]
        r["share"] = mask_with(n, round(100 * n / total, 1) if total else None)
    return rows


def _section(title: str, rows: list[dict[str, Any]], unit: str = "cases", note: str = "") -> dict[str, Any]:
    return {"title": title, "unit": unit, "note": note, "rows": rows}


def report_from_events(events: Iterable[Any], period: str | Period, *, generated_at: datetime | None = None,
                       region: str | None = None) -> dict[str, Any]:
    """The whole report for `period` from decoded envelopes (pure: no I/O). Raises NoDataError
    when nothing on the report's topics falls in the period. The result is JSON-ready."""
    p = period if isinstance(period, Period) else parse_period(period)
    ins = collect(events)
    if not has_data(ins, p):
        raise NoDataError(f"no data for {p}: no case, diary entry, fee, invoice or budget status falls in the period")
    periods = {"current": p, "previous": p.previous(), "year_before": p.year_before()}
    cases = {c: cases_in(ins.cases, q) for c, q in periods.items()}
    sections: dict[str, Any] = {}

    by_channel = {c: count_by_channel(v) for c, v in cases.items()}
    totals = {c: len(v) for c, v in cases.items()}
    rows = _count_rows(by_channel, CHANNELS, [k for k in CHANNELS if any(by_channel[c].get(k) for c in COLUMNS)])
    rows.append({"key": "total", "label": "Totalt", **{c: mask(totals[c]) for c in COLUMNS}})
    sections["cases_by_channel"] = _section("Ärenden per kanal", rows)

    areas = {c: count_by_main_area(v) for c, v in cases.items()}
    area_keys = [k for k in MAIN_AREAS if any(areas[c].get(k) for c in COLUMNS)]
    sections["cases_by_main_area"] = _section("Ärenden per huvudområde", _with_share(_count_rows(areas, MAIN_AREAS, area_keys), areas, totals),
                                              note="Ett ärende med kategorier i flera områden räknas i varje.")
    subs = {c: count_by_sub_area(v) for c, v in cases.items()}
    sub_keys = sorted({k for c in COLUMNS for k in subs[c]}, key=lambda k: (main_area(k) == "ovrigt", k))
    sections["cases_by_sub_area"] = _section("Ärenden per delområde", _with_share(_count_rows(subs, SUB_AREAS, sub_keys), subs, totals),
                                             note="Andel = andel av periodens ärenden, en decimal.")

    for name, title, fn in (("cases_by_provider", "Ärenden per vårdgivare (topp 10)", count_by_provider),
                            ("cases_by_unit", "Ärenden per vårdenhet (HSA-id, topp 10)", count_by_unit)):
        counts = {c: fn(v) for c, v in cases.items()}
        top = top_with_rest(counts["current"])
        per = {c: top_with_rest(counts[c], keys=[k for k in top if k != REST]) for c in COLUMNS}
        sections[name] = _section(title, _count_rows(per, {REST: "Övriga", UNKNOWN: "Okänd"}, list(top)))

    replies = {c: reply_days(ins.diary, q) for c, q in periods.items()}
    sections["reply_days"] = _section("Dagar från klagomål till vårdgivarens svar", [
        {"key": "median_days", "label": "Median, dagar", **{c: mask_with(len(replies[c]), median(replies[c])) for c in COLUMNS}},
        {"key": "replies", "label": "Svar registrerade", **{c: mask(len(replies[c])) for c in COLUMNS}},
    ], unit="days", note="Svar = första inkommande skrivelse i diariet efter klagomålet; räknas på svarsdatum.")

    spikes = {c: alerts(ins.alerts_raised, ins.alerts_resolved, q, is_spike) for c, q in periods.items()}
    sections["spike_alerts"] = _alert_rows("Larm om ökning av klagomål", spikes)

    lt = {c: letters(ins.diary, ins.dispatched, q) for c, q in periods.items()}
    labels = {"complaints_registered": "Klagomål registrerade", "letters_registered_in": "Skrivelser in",
              "letters_registered_out": "Skrivelser ut", "letters_dispatched": "Skrivelser skickade"}
    sections["letters"] = _section("Diariet: registrerat och skickat", _count_rows(lt, labels, list(labels)), unit="documents")

    sp = {c: support(ins.fees, ins.payouts, q) for c, q in periods.items()}
    sections["support"] = _section("Stödpersoner", [
        {"key": "support_persons_active", "label": "Aktiva stödpersoner", **{c: mask(sp[c]["support_persons_active"]) for c in COLUMNS}},
        {"key": "visits", "label": "Besök med arvode", **{c: mask(sp[c]["visits"]) for c in COLUMNS}},
        {"key": "fees_total", "label": "Arvoden, kr", **{c: mask_with(sp[c]["visits"], _money(sp[c]["fees_total"])) for c in COLUMNS}},
        {"key": "payouts", "label": "Utbetalningar", **{c: mask(sp[c]["payouts"]) for c in COLUMNS}},
        {"key": "payouts_total", "label": "Utbetalt, kr", **{c: mask_with(sp[c]["payouts"], _money(sp[c]["payouts_total"])) for c in COLUMNS}},
    ], unit="mixed")

    oor = {c: out_of_region(ins.invoices, q) for c, q in periods.items()}
    regions = sorted({r for c in COLUMNS for r in oor[c]})
    empty = {"care_days": 0, "credited_days": 0, "amount": ZERO}
    sections["out_of_region_days"] = _section("Utomlänsvård: fakturerade vårddygn per hemregion", [
        {"key": r, "label": f"Region {r}", **{c: mask(oor[c].get(r, empty)["care_days"]) for c in COLUMNS}} for r in regions
    ], unit="care days")
    sections["out_of_region_amount"] = _section("Utomlänsvård: fakturerat belopp per hemregion, kr", [
        {"key": r, "label": f"Region {r}",
         **{c: mask_with(oor[c].get(r, empty)["care_days"], _money(oor[c].get(r, empty)["amount"])) for c in COLUMNS}}
        for r in regions
    ], unit="SEK", note="Netto efter krediteringar.")

    bud = {c: budget(ins.budget, q) for c, q in periods.items()}
    centres = sorted({cc for c in COLUMNS for cc in bud[c]}, key=lambda cc: (cc == "total", cc))
    measures = {"budget_ytd": "Budget hittills", "actual_ytd": "Utfall hittills", "deviation": "Avvikelse",
                "annual_budget": "Årsbudget", "forecast_run_rate": "Prognos (takt)", "forecast_budget_rest": "Prognos (budget resten)"}
    rows = []
    for cc in centres:
        for m, label in measures.items():
            rows.append({"key": cc, "measure": m, "label": f"{cc}: {label}",
                         **{c: _money(getattr(bud[c][cc].total, m)) if cc in bud[c] else None for c in COLUMNS}})
    sections["budget"] = _section("Budget och utfall per kostnadsställe, kr", rows, unit="SEK",
                                  note="Senaste budgetstatus inom perioden (" + ", ".join(
                                      f"{c}: {max((s.period for s in bud[c].values()), default='–')}" for c in COLUMNS) + ").")
    bal = {c: alerts(ins.alerts_raised, ins.alerts_resolved, q, is_budget) for c, q in periods.items()}
    sections["budget_alerts"] = _alert_rows("Budgetlarm", bal)

    trend = yearly_trend(ins.cases, p.year)
    return {
        "report": "patientnamnd",
        "period": str(p),
        "periods": {c: {"name": str(q), "first": q.first.isoformat(), "last": q.last.isoformat()} for c, q in periods.items()},
        "region": region,
        "generated_at": (generated_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        "privacy": "Antal under 5 visas som \"< 5\". Inga fritexter, namn eller personnummer.",
        "trend": {"title": "Ärenden per år", "rows": [{"year": y, "cases": mask(n)} for y, n in trend.items()]},
        "sections": sections,
    }


def _alert_rows(title: str, per: dict[str, dict[str, dict[str, int]]]) -> dict[str, Any]:
    rules = sorted({r for c in COLUMNS for r in per[c]})
    rows = []
    for r in rules:
        for what, label in (("raised", "larmade"), ("resolved", "upphörda")):
            rows.append({"key": r, "measure": what, "label": f"{r} {label}",
                         **{c: per[c].get(r, {}).get(what, 0) for c in COLUMNS}})
    return _section(title, rows, unit="alerts", note="Larm räknas inte som ärenden och maskeras inte.")
