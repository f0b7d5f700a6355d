"""Demo-like events for report tests and benchmarks: what the five services publish, the HSA
directory, support-person assignments and advice contacts; the demo scenario's channel and theme
mix (shared/apps/demo/scenario.py), the Jämtland trend 2018-2023, and the economy of the Jämtland 2023
annual report per cost centre and account row (its table "Intäkter och kostnader i tkr", with the
previous year's column). Deterministic (seeded)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from shared.apps.demo.scenario import CHANNELS, HOME_REGIONS, PROVIDERS, STOCKHOLM, THEMES
from shared.contract.events import (
    AdviceContactRegistered,
    AlertMessage,
    AlertRaised,
    AlertResolved,
    BudgetFigures,
    BudgetStatus,
    CareUnitUpserted,
    CaseOpened,
    CategoryRef,
    DiaryRegistered,
    FeeCalculated,
    FeeLine,
    FeePayout,
    InvoiceIssued,
    InvoiceLine,
    LetterDispatched,
    SupportAssigned,
    SupportEnded,
    derive_id,
    make_event,
)

TREND = {2018: 463, 2019: 474, 2020: 408, 2021: 545, 2022: 673, 2023: 557}
# Jämtland 2023 in kr per (cost centre, account group): (annual outcome, annual budget). One exact
# split that rounds to every tkr figure of the seed's table (as shared/apps/demo/seed_jamtland.py,
# with 6101's row as "services", the seed's Verksamhetsanknutna tjänster).
ECONOMY_2023 = {
    ("6101", "personnel"): (Decimal("-334000"), Decimal("-340000")),
    ("6101", "services"): (Decimal("0"), Decimal("-10000")),
    ("6102", "revenue"): (Decimal("349400"), Decimal("400000")),
    ("6102", "personnel"): (Decimal("-1999500"), Decimal("-2217000")),
    ("6102", "other"): (Decimal("-157000"), Decimal("-250000")),
    ("6103", "personnel"): (Decimal("-95000"), Decimal("-100000")),
    ("6103", "fees"): (Decimal("-850000"), Decimal("-900000")),
    ("6103", "other"): (Decimal("-78000"), Decimal("-83000")),
}
# The previous year's outcome: the seed's column "Ack utfall fg år" (342, −3 337, −6 − 175 = −181
# under Övriga kostnader, net −3 177 and a change of +12 tkr), split over the cost centres.
ECONOMY_2022 = {
    ("6101", "personnel"): (Decimal("-330000"), Decimal("-340000")),
    ("6102", "revenue"): (Decimal("342300"), Decimal("400000")),
    ("6102", "personnel"): (Decimal("-2060000"), Decimal("-2217000")),
    ("6102", "other"): (Decimal("-110000"), Decimal("-250000")),
    ("6103", "personnel"): (Decimal("-97400"), Decimal("-100000")),
    ("6103", "fees"): (Decimal("-850000"), Decimal("-900000")),
    ("6103", "other"): (Decimal("-71400"), Decimal("-83000")),
}
BUDGET_2023 = {cc: (sum(b for (c, _), (_, b) in ECONOMY_2023.items() if c == cc),
                    sum(a for (c, _), (a, _) in ECONOMY_2023.items() if c == cc)) for cc in ("6101", "6102", "6103")}
"""(budget, outcome) per cost centre, kr: +16, +259.9 and +60 tkr."""
UNIT_NAMES = ("Vårdcentral", "Psykiatrisk mottagning", "Akutmottagning", "Ortopedmottagning", "Barnmottagning",
              "Kirurgisk avdelning")
TOWNS = ("Falun", "Borlänge", "Mora", "Ludvika", "Avesta", "Leksand")
FEE = Decimal("350.00")
PRICE = Decimal("120.00")


def _pick(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    return rng.choices([k for k, _ in weighted], weights=[w for _, w in weighted])[0]


def _local(day: date, rng: random.Random) -> datetime:
    return datetime.combine(day, time(rng.randint(8, 16), rng.randint(0, 59)), STOCKHOLM).astimezone(UTC)


def generate(year: int = 2023, scale: float = 1.0, seed: int = 17, tag: str = "s") -> list:
    """Envelopes for the years of TREND up to `year` (cases, diary, letters), and for `year` and the
    one before it: fees, payouts, invoices, budget status, alerts."""
    rng = random.Random(seed)
    events = []
    units = [(f"SE2321000180-{1000 + i}", PROVIDERS[i % len(PROVIDERS)]) for i in range(24)]
    themes = [(code, w) for code, w, _ in THEMES]
    for offset, y in enumerate(sorted(TREND)):
        y = year - (max(TREND) - y)
        n = max(1, round(list(TREND.values())[offset] * scale))
        for i in range(n):
            day = date(y, 1, 1) + timedelta(days=rng.randrange(365))
            opened = _local(day, rng)
            unit, provider = rng.choice(units)
            case_id = f"{tag}-{y}-{i:05d}"
            events.append(make_event(CaseOpened(
                case_id=case_id, complaint_event_id=derive_id(tag, "c", case_id), channel=_pick(rng, CHANNELS),
                region="20", care_unit_hsa_id=unit, care_unit_status="resolved", care_provider=provider,
                categories=[CategoryRef(code=_pick(rng, themes), source="rules")], opened_at=opened),
                source="/pn/intake", time=opened, id=derive_id(tag, "case", case_id)))
            events.append(make_event(DiaryRegistered(
                diary_number=f"PN {y}/{i + 1}", registered_at=opened, direction="in", document_kind="complaint",
                case_id=case_id, counterpart="Patient", subject="Klagomål", confidential=True,
                confidentiality_ref="25 kap. 1 § OSL"), source="/pn/diary", time=opened, id=derive_id(tag, "dc", case_id)))
            sent = opened + timedelta(days=rng.randint(1, 5))
            events.append(make_event(DiaryRegistered(
                diary_number=f"PN {y}/{n + i + 1}", registered_at=sent, direction="out", document_kind="letter",
                case_id=case_id, counterpart=unit, subject="Skrivelse till vårdgivare", confidential=True),
                source="/pn/diary", time=sent, id=derive_id(tag, "do", case_id)))
            events.append(make_event(LetterDispatched(
                letter_id=f"{case_id}-l", diary_number=f"PN {y}/{n + i + 1}", registry_address="registrator@example.se",
                dispatched_at=sent + timedelta(hours=1), recipient_hsa_id=unit, case_id=case_id),
                source="/pn/diary", time=sent, id=derive_id(tag, "ld", case_id)))
            if rng.random() < 0.8:
                reply = sent + timedelta(days=rng.randint(7, 60))
                events.append(make_event(DiaryRegistered(
                    diary_number=f"PN {y}/{2 * n + i + 1}", registered_at=reply, direction="in", document_kind="letter",
                    case_id=case_id, counterpart=unit, subject="Svar från vårdgivare", confidential=True),
                    source="/pn/diary", time=reply, id=derive_id(tag, "dr", case_id)))
    for i, (hsa_id, provider) in enumerate(units):
        events.append(make_event(CareUnitUpserted(
            hsa_id=hsa_id, name=f"{UNIT_NAMES[i % 6]} {TOWNS[(i // 6) % 6]}", care_provider=provider, region="20",
            registry_address=f"registrator.{i}@example.se"), source="/hsa/sync", time=datetime(year - 6, 1, 1, tzinfo=UTC),
            id=derive_id(tag, "unit", hsa_id)))
    for y in (year - 1, year):
        events += (_support(rng, y, scale, tag) + _invoices(rng, y, scale, tag) + _budget(y, tag, ECONOMY_2023 if y == year else ECONOMY_2022) + _alerts(y, tag)
                   + _advice(rng, y, scale, tag))
    return events + _assignments(year, tag)


def _assignments(y: int, tag: str) -> list:
    """The seed's year: six new assignments, nine going on at the end of December (three from before
    the year), and one that ended in it."""
    out = []
    spans = [(date(y - 1, 3 + k, 1), None) for k in range(3)] + [(date(y - 1, 9, 1), date(y, 2, 10))]
    spans += [(date(y, 2 * k + 1, 15), None) for k in range(6)]
    for k, (start, ended) in enumerate(spans):
        aid = f"{tag}-upp-{y}-{k}"
        at = datetime.combine(start, time(9), STOCKHOLM).astimezone(UTC)
        out.append(make_event(SupportAssigned(assignment_id=aid, support_person_id=f"{tag}-sp-{k:02d}", patient_ref=f"p-{aid}",
                                              legal_basis="LPT", start_date=start), source="/pn/stodperson", time=at,
                              id=derive_id(tag, "asg", aid)))
        if ended:
            out.append(make_event(SupportEnded(assignment_id=aid, ended_on=ended, reason="avslutat"), source="/pn/stodperson",
                                  time=datetime.combine(ended, time(9), STOCKHOLM).astimezone(UTC), id=derive_id(tag, "end", aid)))
    return out


def _advice(rng: random.Random, y: int, scale: float, tag: str) -> list:
    """Advice contacts: the seed's "över 250" a year, mostly by phone."""
    subjects = [("lagstiftning", 0.3), ("rutiner", 0.25), ("hanvisning_ivo", 0.15), ("hanvisning_lof", 0.1),
                ("hanvisning_annan", 0.12), ("ovrigt", 0.08)]
    out = []
    for i in range(max(1, round(262 * scale))):
        day = date(y, 1, 1) + timedelta(days=rng.randrange(365))
        data = AdviceContactRegistered(contact_id=f"{tag}-rad-{y}-{i:04d}", date=day,
                                       channel=_pick(rng, [("phone", 0.85), ("email", 0.1), ("visit", 0.05)]),
                                       subject_area=_pick(rng, subjects))
        out.append(make_event(data, source="/pn/radgivning", time=_local(day, rng), id=derive_id(tag, "adv", y, i)))
    return out


def _support(rng: random.Random, y: int, scale: float, tag: str) -> list:
    out, per_month = [], {}
    persons = [f"{tag}-sp-{i:02d}" for i in range(max(1, round(40 * scale)))]
    for i in range(max(1, round(1365 * scale))):
        day = date(y, 1, 1) + timedelta(days=rng.randrange(365))
        sp = rng.choice(persons)
        fee_id = f"{tag}-fee-{y}-{i:05d}"
        out.append(make_event(FeeCalculated(
            fee_id=fee_id, visit_id=f"{tag}-v-{y}-{i:05d}", support_person_id=sp,
            lines=[FeeLine(code="arvode", description="Arvode", quantity=Decimal(1), unit_price=FEE, amount=FEE, taxable=True)],
            total=FEE, schedule_version="2023-01", rule_ids=["fee.visit"], visit_date=day, assignment_id=f"{sp}-a"),
            source="/pn/fees", time=_local(day, rng), id=derive_id(tag, "fee", fee_id)))
        per_month.setdefault((day.month, sp), []).append(fee_id)
    for (month, sp), ids in sorted(per_month.items()):
        total = FEE * len(ids)
        out.append(make_event(FeePayout(period=f"{y}-{month:02d}", support_person_id=sp, fee_ids=ids,
                                        taxable_total=total, tax_free_total=Decimal("0.00"), total=total),
                              source="/pn/fees", time=datetime(y, month, 28, tzinfo=UTC), id=derive_id(tag, "po", y, month, sp)))
    return out


def _invoices(rng: random.Random, y: int, scale: float, tag: str) -> list:
    out = []
    for month in range(1, 13):
        for home, share in HOME_REGIONS:
            days = max(1, round(15_467 * share * scale / 12 * rng.uniform(0.8, 1.2)))
            ids = [f"{tag}-cd-{y}-{month}-{home}-{k}" for k in range(days)]
            out.append(make_event(InvoiceIssued(
                invoice_number=f"PN-{y}-{month:02d}-{home}", period=f"{y}-{month:02d}", home_region=home,
                lines=[InvoiceLine(agreement_id="riksavtalet", legal_basis="LPT", description="Vårddygn LPT",
                                   quantity=days, unit_price=PRICE, amount=PRICE * days, care_day_ids=ids)],
                total=PRICE * days), source="/pn/billing", time=datetime(y, month, 28, tzinfo=UTC),
                id=derive_id(tag, "inv", y, month, home)))
    return out


def figures(budget_annual: Decimal, actual: Decimal, months: int) -> BudgetFigures:
    ytd = (budget_annual * months / 12).quantize(Decimal("0.01"))
    act = (actual * months / 12).quantize(Decimal("0.01"))
    return BudgetFigures(budget_ytd=ytd, actual_ytd=act, deviation=act - ytd, annual_budget=budget_annual,
                         forecast_run_rate=(act * 12 / months).quantize(Decimal("0.01")),
                         forecast_budget_rest=(act + budget_annual - ytd).quantize(Decimal("0.01")))


def _sum(parts: list[BudgetFigures]) -> BudgetFigures:
    return BudgetFigures(**{f: sum((getattr(p, f) for p in parts), Decimal("0.00")) for f in BudgetFigures.model_fields})


def _budget(y: int, tag: str, economy: dict[tuple[str, str], tuple[Decimal, Decimal]]) -> list:
    """A status per cost centre and month (accumulated), and the total over the cost centres."""
    out = []
    for month in range(1, 13):
        everything = []
        for cc in ("6101", "6102", "6103"):
            groups = {g: figures(b, a, month) for (c, g), (a, b) in economy.items() if c == cc}
            total = _sum(list(groups.values()))
            everything.append((groups, total))
            out.append(make_event(BudgetStatus(year=y, period=f"{y}-{month:02d}", cost_centre=cc, account_groups=groups,
                                               total=total),
                                  source="/pn/budget", time=datetime(y, month, 28, 12, tzinfo=UTC), id=derive_id(tag, "bs", y, month, cc)))
        merged: dict[str, list[BudgetFigures]] = {}
        for groups, _ in everything:
            for g, fig in groups.items():
                merged.setdefault(g, []).append(fig)
        out.append(make_event(BudgetStatus(year=y, period=f"{y}-{month:02d}", cost_centre="total",
                                           account_groups={g: _sum(v) for g, v in merged.items()},
                                           total=_sum([t for _, t in everything])),
                              source="/pn/budget", time=datetime(y, month, 28, 12, tzinfo=UTC), id=derive_id(tag, "bs", y, month, "total")))
    return out


def _alerts(y: int, tag: str) -> list:
    msg = AlertMessage(sv="Ökning av klagomål", en="Complaint spike")
    out = []
    for k, (rule, month) in enumerate((("intake.complaint_spike", 3), ("intake.complaint_spike", 9),
                                       ("budget.forecast_deficit", 6))):
        raised = datetime(y, month, 10, 9, tzinfo=UTC)
        common = dict(alert_id=f"{tag}-al-{y}-{k}", rule_id=rule, severity="warning", subject="SE2321000180-1001",
                      message=msg, raised_at=raised)
        out.append(make_event(AlertRaised(**common), source="/pn/intake", time=raised, id=derive_id(tag, "ar", y, k)))
        if month < 9:
            out.append(make_event(AlertResolved(**common, resolved_at=raised + timedelta(days=14)), source="/pn/intake",
                                  time=raised + timedelta(days=14), id=derive_id(tag, "aR", y, k)))
    return out
