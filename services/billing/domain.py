"""Billing decisions, pure: is a vårddygn new, the same day again or a duplicate, and what the
duplicate alert says; is it billable and under which agreement; which periods a close covers and
what it drafts; what invoice a draft becomes; where its income is posted. No I/O, clock, logging
or faust here: handlers.py reads the stores, calls these, and writes and emits what they decide.

Precedence of agreements (DOMAIN.md): a mellanlänsavtal between the two regions beats the
sjukvårdsregion's agreement, which beats Riksavtalet. The rules engine says which agreements
match a day; `choose` applies the precedence, so every invoice line names exactly one agreement.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.contract.events import (
    AlertMessage,
    AlertRaised,
    CareDayRecorded,
    InvoiceCredit,
    InvoiceDrafted,
    InvoiceDraftLine,
    InvoiceIssued,
    InvoiceLine,
    LedgerPosted,
    PeriodCloseRequested,
)
from shared.contract.events.types import CostCentre, CountyCode, LegalBasis
from shared.kernel.money import ZERO, Money

SERVICE = "billing"
"""The `service` of the `pn.period.close_requested` commands that are ours (fees has the others)."""
KINDS = ("mellanlansavtal", "sjukvardsregion", "riksavtalet")
"""Agreement kinds in order of precedence: the first matching kind wins."""
ALL_REGIONS = "*"
LEGAL_BASES: tuple[LegalBasis, ...] = ("LPT", "LRV", "SmL")
Form = Literal["inpatient", "outpatient"]
DEFAULT_LEGAL_BASES: tuple[LegalBasis, ...] = ("LPT", "LRV")
DEFAULT_FORMS: tuple[Form, ...] = ("inpatient",)
"""What an agreement surcharges unless it says otherwise: the seed's 15,467 vårddygn are inpatient
days (slutenvård) under psychiatry's agreements (LPT, LRV); outpatient care has no per-day
statistic and SmL care is not psychiatry's. Other forms and bases only where an agreement says so."""

# Why a day is not billed (invoice statistics).
OTHER_CARE_REGION = "other_care_region"  # cared for elsewhere: not ours to bill
IN_REGION = "in_region"                  # the patient lives in our region
VOLUNTARY = "voluntary"                  # no compulsory-care legal basis
BEFORE_AGREEMENT = "before_agreement"    # an agreement would cover it, but starts later
NOT_COVERED = "not_covered"              # no agreement covers its form, legal basis or date


class Agreement(BaseModel):
    """One out-of-region agreement (avtal) as written in rules/billing.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=60)]
    kind: Literal["mellanlansavtal", "sjukvardsregion", "riksavtalet"]
    name: Annotated[str, Field(min_length=1, max_length=120)]
    home_regions: Literal["*"] | Annotated[list[CountyCode], Field(min_length=1)]
    effective_from: date
    effective_to: date | None = None
    surcharge_per_day: Money
    legal_basis: Annotated[list[LegalBasis], Field(min_length=1)] = list(DEFAULT_LEGAL_BASES)
    forms: Annotated[list[Form], Field(min_length=1)] = list(DEFAULT_FORMS)

    @field_validator("surcharge_per_day")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError("surcharge_per_day must be above 0")
        return value

    @model_validator(mode="after")
    def _dates_ordered(self) -> Agreement:
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        return self

    @property
    def rank(self) -> int:
        return KINDS.index(self.kind)

    def covers_region(self, region: str) -> bool:
        return self.home_regions == ALL_REGIONS or region in self.home_regions

    def covers_care(self, day: CareDayRecorded) -> bool:
        """Region, form and legal basis, whatever the date."""
        return (self.covers_region(day.home_region) and day.form in self.forms
                and day.legal_basis in self.legal_basis)

    def overlaps(self, other: Agreement) -> bool:
        """Same kind and some day, region, form and legal basis both would price: ambiguous."""
        if self.kind != other.kind:
            return False
        regions = (self.home_regions == ALL_REGIONS or other.home_regions == ALL_REGIONS
                   or bool(set(self.home_regions) & set(other.home_regions)))
        end_a, end_b = self.effective_to or date.max, other.effective_to or date.max
        dates = self.effective_from <= end_b and other.effective_from <= end_a
        return (regions and dates and bool(set(self.forms) & set(other.forms))
                and bool(set(self.legal_basis) & set(other.legal_basis)))


@dataclass(frozen=True, slots=True)
class Decision:
    """The billing decision for one day: an agreement, or the reason it is not billed."""

    agreement: Agreement | None
    reason: str | None = None


def screen(day: CareDayRecorded, care_region: str) -> str | None:
    """Reasons that need no agreement to know a day is not billed; None if agreements decide."""
    if day.care_region != care_region:
        return OTHER_CARE_REGION
    if day.home_region == care_region:
        return IN_REGION
    if day.legal_basis is None:
        return VOLUNTARY
    return None


def choose(day: CareDayRecorded, matched: Sequence[Agreement], agreements: Sequence[Agreement]) -> Decision:
    """The matching agreement of highest precedence (file order breaks a tie), or why none."""
    if matched:
        return Decision(min(matched, key=lambda a: a.rank))
    later = any(a.covers_care(day) and day.care_date < a.effective_from for a in agreements)
    return Decision(None, BEFORE_AGREEMENT if later else NOT_COVERED)


def decide_day(day: CareDayRecorded, care_region: str, agreements: Sequence[Agreement],
               matching: Callable[[CareDayRecorded], Sequence[Agreement]]) -> Decision:
    """Which agreement prices a day, or why it is not billed (docs/billing.md, "Which agreement
    prices a day"): first the reasons no agreement changes (`screen`: another care region, our
    own region, voluntary care); else the matching agreement of highest precedence (`choose`).
    `matching` is the rules engine's answer for the day (BillingRules.matching); it is asked only
    when the agreements decide."""
    reason = screen(day, care_region)
    return Decision(None, reason) if reason else choose(day, matching(day), agreements)


# -- a recorded day next to the one kept for its patient and date -------------------------------
NEW = "new"              # first for its patient and date, or a correction after a cancel: decide it
AGAIN = "again"          # the same care_day_id again: counted once, nothing changes
DUPLICATE = "duplicate"  # another care_day_id for the same patient and date: billed once, alerted
REPLACES = "replaces"    # another, lower care_day_id before the period's first close: kept instead, the other alerted
Arrival = Literal["new", "again", "duplicate", "replaces"]

DUPLICATE_RULE = "billing.duplicate_care_day"
"""The rule id of the duplicate alert on `pn.alerts.ops`."""


def arrival(care_day_id: str, kept_id: str | None, *, kept_cancelled: bool, kept_closed: bool = False) -> Arrival:
    """What a recorded vårddygn is, given the care_day_id already kept for its patient and date
    (docs/billing.md, "Care days"): the same care_day_id again counts once (`AGAIN`); a new day
    after the kept one was cancelled is a correction, decided like a first day (`NEW`); another
    id while the kept day stands is a duplicate, billed once and alerted.

    Which of two duplicates is billed must not depend on which arrived first (they may come on
    different stays, so on different partitions of `pn.care.days`, and reach billing's one
    partition in any order): the one with the lowest care_day_id (string order) is kept, so a
    lower id replaces the kept one (`REPLACES`: the kept one becomes the alerted duplicate) while
    the kept day's period has not been closed (`kept_closed`: from its first close on, the kept
    day may be on a draft or an invoice and stands; the later one is the duplicate)."""
    if kept_id is None:
        return NEW
    if kept_id == care_day_id:
        return AGAIN
    if kept_cancelled:
        return NEW
    return REPLACES if care_day_id < kept_id and not kept_closed else DUPLICATE


def duplicate_alert(day: CareDayRecorded, kept_id: str, raised_at: datetime) -> AlertRaised:
    """The warning that a care day has the same patient and date as the kept one: both ids, the
    date and the home region in `facts`, never the patient reference (docs/billing.md)."""
    return _duplicate_alert(day.care_day_id, kept_id, day.care_date.isoformat(), day.home_region, raised_at)


def replaced_alert(replaced: Mapping[str, Any], by: CareDayRecorded, raised_at: datetime) -> AlertRaised:
    """The duplicate alert for a kept day (its `day_record`) that a lower care_day_id for the same
    patient and date replaced: the same alert (id, subject, facts) as had the two arrived the other
    way round."""
    return _duplicate_alert(replaced["id"], by.care_day_id, by.care_date.isoformat(), replaced["home"], raised_at)


def _duplicate_alert(care_day_id: str, kept_id: str, care_date: str, home_region: str,
                     raised_at: datetime) -> AlertRaised:
    return AlertRaised(
        alert_id=f"{DUPLICATE_RULE}:{care_day_id}", rule_id=DUPLICATE_RULE, severity="warning",
        subject=care_day_id,
        message=AlertMessage(
            sv=f"Vårddygn {care_day_id} har samma patient och datum som {kept_id}; det faktureras en gång.",
            en=f"Care day {care_day_id} has the same patient and date as {kept_id}; it is billed once."),
        facts={"care_day_id": care_day_id, "kept_care_day_id": kept_id,
               "care_date": care_date, "home_region": home_region},
        raised_at=raised_at)


# -- the day as stored, and the close -----------------------------------------------------------
def day_record(day: CareDayRecorded, decision: Decision) -> dict[str, Any]:
    """What the billing keeps of a vårddygn: no patient data beyond the key it is stored under."""
    a = decision.agreement
    return {"id": day.care_day_id, "home": day.home_region, "basis": day.legal_basis,
            "agreement": a.id if a else None, "price": str(a.surcharge_per_day) if a else None,
            "reason": decision.reason}


@dataclass(frozen=True, slots=True)
class Billed:
    """Where a care day was billed, at what price, and which invoice credited it, if any."""

    invoice: str
    period: str
    home_region: str
    price: Decimal
    credited_by: str | None = None


def closed_periods(closed: Iterable[str], command: PeriodCloseRequested) -> list[str] | None:
    """The closed periods after a close request, sorted: those closed before and the one asked
    for. A close drafts all of them, so days arriving after their month's close go on a
    supplementary invoice at the next close, whichever period it is for (docs/billing.md,
    "Invoices"). None when the request is another service's (the command is shared with fees)."""
    if command.service != SERVICE:
        return None
    return sorted({*closed, command.period})


def billed_index(issued: Iterable[Mapping[str, Any]]) -> dict[str, Billed]:
    """care_day_id → Billed, from issued invoices as stored (InvoiceIssued in JSON form)."""
    index: dict[str, Billed] = {}
    credits = []
    for inv in issued:
        for line in inv["lines"]:
            price = Decimal(line["unit_price"])
            for care_day_id in line["care_day_ids"]:
                index[care_day_id] = Billed(inv["invoice_number"], inv["period"], inv["home_region"], price)
        credits += [(c["care_day_id"], inv["invoice_number"]) for c in inv["credits"]]
    for care_day_id, number in credits:
        if care_day_id in index:
            index[care_day_id] = replace(index[care_day_id], credited_by=number)
    return index


def draft_invoices(
    days: Iterable[tuple[str, Mapping[str, Any]]], *, closed: set[str], cancelled: set[str],
    billed: Mapping[str, Billed], describe: Mapping[str, str],
) -> list[InvoiceDrafted]:
    """One draft per (period, home region) with something new: unbilled billable days of closed
    periods, and invoiced days cancelled since. `days` are (care date ISO, day record) pairs;
    `billed` is the `billed_index` of the closed periods; `describe` agreement id → name.

    A draft also lists its cancelled days not known to be invoiced: an earlier draft may still be
    on its way to becoming the invoice that bills them, and the draft is issued after it."""
    lines: dict[tuple[str, str], dict[tuple[str, str, str], list[str]]] = defaultdict(lambda: defaultdict(list))
    not_billed: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    period_not_billed: dict[str, Counter[str]] = defaultdict(Counter)
    billable: Counter[tuple[str, str]] = Counter()
    maybe_billed: dict[tuple[str, str], list[str]] = defaultdict(list)
    taken: set[str] = set()
    for care_date, rec in days:
        period = care_date[:7]
        if period not in closed or rec["id"] in taken:
            continue
        taken.add(rec["id"])
        where = (period, rec["home"])
        if rec["agreement"] is None:
            not_billed[where][rec["reason"]] += 1
            period_not_billed[period][rec["reason"]] += 1
            continue
        if rec["id"] in cancelled:
            if rec["id"] not in billed:
                maybe_billed[where].append(rec["id"])
            continue
        billable[where] += 1
        if rec["id"] not in billed:
            lines[where][(rec["agreement"], rec["basis"], rec["price"])].append(rec["id"])
    credits: dict[tuple[str, str], list[str]] = defaultdict(list)
    for care_day_id in cancelled:
        b = billed.get(care_day_id)
        if b is not None and b.credited_by is None:
            credits[(b.period, b.home_region)].append(care_day_id)
    drafts = []
    for period, home in sorted(set(lines) | set(credits)):
        groups = lines.get((period, home), {})
        drafts.append(InvoiceDrafted(
            period=period, home_region=home,
            lines=[InvoiceDraftLine(agreement_id=a, legal_basis=basis, unit_price=price,
                                    description=f"{describe.get(a, a)}: vårddygn {basis} {period}",
                                    care_day_ids=sorted(ids))
                   for (a, basis, price), ids in sorted(groups.items())],
            cancelled_care_day_ids=sorted({*credits.get((period, home), []), *maybe_billed.get((period, home), [])}),
            statistics={"billable_days": billable[(period, home)],
                        "not_billed": dict(sorted(not_billed[(period, home)].items())),
                        "period_not_billed": dict(sorted(period_not_billed[period].items()))}))
    return drafts


def invoice_number(period: str, home_region: str, sequence: int) -> str:
    """`PN-<period>-<home region>`; supplementary invoices for the same period and region `-2`, `-3`."""
    base = f"PN-{period}-{home_region}"
    return base if sequence == 1 else f"{base}-{sequence}"


def issue_invoice(draft: InvoiceDrafted, issued: Sequence[Mapping[str, Any]]) -> InvoiceIssued | None:
    """The invoice a draft becomes, given the invoices already `issued` for its period and home
    region: days already invoiced are left out (never billed twice), cancelled invoiced days not
    yet credited become credits at the price they were billed at. None when nothing is left."""
    billed = billed_index(issued)
    lines, seen = [], set()
    for line in draft.lines:
        ids = [i for i in line.care_day_ids if i not in billed and i not in seen]
        seen.update(ids)
        if ids:
            lines.append(InvoiceLine(agreement_id=line.agreement_id, legal_basis=line.legal_basis,
                                     description=line.description, quantity=len(ids),
                                     unit_price=line.unit_price, amount=line.unit_price * len(ids),
                                     care_day_ids=ids))
    credits = [InvoiceCredit(care_day_id=i, amount=billed[i].price) for i in dict.fromkeys(draft.cancelled_care_day_ids)
               if i in billed and billed[i].credited_by is None]
    if not lines and not credits:
        return None
    total = sum((line.amount for line in lines), ZERO) - sum((c.amount for c in credits), ZERO)
    return InvoiceIssued(
        invoice_number=invoice_number(draft.period, draft.home_region, len(issued) + 1),
        period=draft.period, home_region=draft.home_region, lines=lines, credits=credits, total=total,
        statistics={**(draft.statistics or {}), "days_on_invoice": sum(line.quantity for line in lines)})


# -- where the income goes -----------------------------------------------------------------------
class Share(BaseModel):
    """The patientnämnd's share of the surcharge income, moved to it by an internal transfer.

    Per invoiced vårddygn (credits give it back at the same rate), effective-dated by the invoice's
    period: the plan's table gives the nämnd 0.5 Mkr a year of the ~1.9 Mkr, which at the seed's
    15,467 days is 500,000 / 15,467 = 32.33 kr a day (rounded to öre)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=60)]
    name: Annotated[str, Field(min_length=1, max_length=120)]
    to_cost_centre: CostCentre
    per_day: Money
    effective_from: date
    effective_to: date | None = None

    @field_validator("per_day")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError("per_day must be above 0")
        return value

    def in_force(self, day: date) -> bool:
        return self.effective_from <= day <= (self.effective_to or date.max)


class Revenue(BaseModel):
    """Where invoice income is booked: the health-care administration's cost centre (the plan:
    the income "tillfaller Hälso- och sjukvårdsförvaltningen"), less the nämnd's share."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cost_centre: CostCentre
    name: Annotated[str, Field(min_length=1, max_length=120)] = "Hälso- och sjukvårdsförvaltningen"
    shares: list[Share] = []

    @model_validator(mode="after")
    def _one_share_at_a_time(self) -> Revenue:
        for i, a in enumerate(self.shares):
            if a.effective_to is not None and a.effective_to < a.effective_from:
                raise ValueError(f"share {a.id!r}: effective_to is before effective_from")
            for b in self.shares[i + 1:]:
                if a.effective_from <= (b.effective_to or date.max) and b.effective_from <= (a.effective_to or date.max):
                    raise ValueError(f"shares {a.id!r} and {b.id!r} overlap: which one applies?")
            if a.to_cost_centre == self.cost_centre:
                raise ValueError(f"share {a.id!r} goes to the income's own cost centre {self.cost_centre}")
        return self

    def share_for(self, period: str) -> Share | None:
        """The share in force on the first day of an invoice's period (`YYYY-MM`)."""
        first = date(int(period[:4]), int(period[5:7]), 1)
        return next((s for s in self.shares if s.in_force(first)), None)


def income_posting_id(invoice_number: str) -> str:
    """`billing:<invoice number>`: the posting of an invoice's total as income (docs/billing.md)."""
    return f"billing:{invoice_number}"


def revenue_postings(invoice: InvoiceIssued, revenue: Revenue, cost_centre: str | None = None) -> list[LedgerPosted]:
    """The ledger postings of one invoice: its total as income of the health-care administration
    (`cost_centre` overrides the rules' one), and the nämnd's share moved by an internal transfer:
    out of that cost centre, into the nämnd's. Net days = days on the invoice − credited days."""
    income_cc = cost_centre or revenue.cost_centre
    number = invoice.invoice_number
    out = [LedgerPosted(posting_id=income_posting_id(number), period=invoice.period, cost_centre=income_cc,
                        account_group="revenue", amount=invoice.total,
                        text=f"Utomlänsfaktura {number} till region {invoice.home_region}")]
    share = revenue.share_for(invoice.period)
    days = sum(line.quantity for line in invoice.lines) - len(invoice.credits)
    if share is None or days == 0:
        return out
    amount = share.per_day * days
    text = f"Intern överföring: {share.name}, {days} vårddygn à {share.per_day} kr, faktura {number}"
    out.append(LedgerPosted(posting_id=f"{income_posting_id(number)}:{share.id}:from", period=invoice.period,
                            cost_centre=income_cc, account_group="revenue", amount=-amount, text=text))
    out.append(LedgerPosted(posting_id=f"{income_posting_id(number)}:{share.id}", period=invoice.period,
                            cost_centre=share.to_cost_centre, account_group="revenue", amount=amount, text=text))
    return out
