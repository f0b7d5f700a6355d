"""Demo-like output events (what the five services publish) for report tests, benchmarks and the
screenshot: the demo scenario's channel and theme mix (shared/apps/demo/scenario.py), the Jämtland trend
2018-2023 and budget deviations per cost centre. Deterministic (seeded)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from shared.apps.demo.scenario import CHANNELS, HOME_REGIONS, PROVIDERS, STOCKHOLM, THEMES
from shared.contract.events import (
    AlertMessage,
    AlertRaised,
    AlertResolved,
    BudgetFigures,
    BudgetStatus,
    CaseOpened,
    CategoryRef,
    DiaryRegistered,
    FeeCalculated,
    FeeLine,
    FeePayout,
    InvoiceIssued,
    InvoiceLine,
    LetterDispatched,
    derive_id,
    make_event,
)

TREND = {2018: 463, 2019: 474, 2020: 408, 2021: 545, 2022: 673, 2023: 557}
# Jämtland 2023 (tkr): budget and outcome per cost centre; deviation = outcome - budget.
BUDGET_2023 = {"6101": (Decimal("-900000.00"), Decimal("-884000.00")),
               "6102": (Decimal("-2100000.00"), Decimal("-1840000.00")),
               "6103": (Decimal("-500000.00"), Decimal("-440000.00"))}
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
    for y in (year - 1, year):
        events += _support(rng, y, scale, tag) + _invoices(rng, y, scale, tag) + _budget(y, tag) + _alerts(y, tag)
    return events


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


def _budget(y: int, tag: str) -> list:
    out = []
    for month in range(1, 13):
        tot_b = tot_a = Decimal("0.00")
        for cc, (b, a) in BUDGET_2023.items():
            f = figures(b, a, month)
            tot_b, tot_a = tot_b + b, tot_a + a
            out.append(make_event(BudgetStatus(year=y, period=f"{y}-{month:02d}", cost_centre=cc,
                                               account_groups={"personnel": f}, total=f),
                                  source="/pn/budget", time=datetime(y, month, 28, 12, tzinfo=UTC), id=derive_id(tag, "bs", y, month, cc)))
        f = figures(tot_b, tot_a, month)
        out.append(make_event(BudgetStatus(year=y, period=f"{y}-{month:02d}", cost_centre="total",
                                           account_groups={"personnel": f}, total=f),
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
