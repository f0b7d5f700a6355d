"""Pure decisions about a stödperson's visit and its payout: is it new, a re-send or a conflict; which
schedule version, is it eligible, what it earns, in which period; when a held visit expires; which
fees a payout pays and its sums. handlers.py reads the facts, calls these, and writes the answers.

No I/O, clock, logging or faust. The fee schedule's versions and rules are value objects here;
rules.py loads them from YAML and asks durable-rules which rules match a visit.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.contract.events import FeeLine, FeePayout, VisitReported
from shared.kernel.money import ZERO, Money, round_ore
from shared.service.rules import check_condition, require_unique

AFTER_CARE = timedelta(days=28)
"""The right to a stödperson lasts 4 weeks after discharge (care_ended_on + 28 days)."""
FACTS = frozenset({"kind", "first_in_week", "has_travel", "has_lost_income"})
WEEKLY_KINDS = ("visit", "phone")


class FeeRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]
    description: Annotated[str, Field(min_length=1, max_length=200)]
    when: dict[str, Any]
    per: Literal["week", "event", "km", "claimed"]
    amount: Money
    taxable: bool

    @field_validator("when")
    @classmethod
    def _known_facts(cls, when: dict[str, Any]) -> dict[str, Any]:
        check_condition(when)
        unknown = _fields(when) - FACTS
        if unknown:
            raise ValueError(f"unknown fact(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(FACTS))}")
        return when


def _fields(cond: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for key, spec in cond.items():
        if key in ("any", "all"):
            for sub in spec:
                out |= _fields(sub)
        else:
            out.add(key)
    return out


class ScheduleVersion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Annotated[str, Field(min_length=1, max_length=60)]
    decided: Annotated[str, Field(min_length=1, max_length=200)]
    example: bool = False
    """True when the amounts are example values, not the region's decided ones (the seeds name the
    decision PN 2022/11 but give no amounts): the service warns at start-up until they are replaced."""
    effective_from: date
    claim_deadline_days: Annotated[int, Field(ge=1, le=3650)]
    rules: Annotated[list[FeeRule], Field(min_length=1)]

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: list[FeeRule]) -> list[FeeRule]:
        return require_unique(rules, lambda r: r.id, "rule ids within a version")


@dataclass(frozen=True)
class Assignment:
    """What the service keeps of an uppdrag: who, from when, and when it ended."""

    support_person_id: str
    start_date: date
    care_ended_on: date | None = None
    ended_on: date | None = None

    def to_json(self) -> dict[str, Any]:
        return {"sp": self.support_person_id, "start": self.start_date.isoformat()}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Assignment:
        return cls(raw["sp"], date.fromisoformat(raw["start"]), _date(raw.get("care_ended")), _date(raw.get("ended")))


def _date(s: str | None) -> date | None:
    return date.fromisoformat(s) if s else None


def version_for(versions: tuple[ScheduleVersion, ...], day: date) -> ScheduleVersion | None:
    """The version in force on `day`: the latest effective_from on or before it (versions sorted)."""
    chosen = None
    for v in versions:
        if v.effective_from <= day:
            chosen = v
    return chosen


def ineligible(visit: VisitReported, assignment: Assignment, deadline_days: int) -> tuple[str, str] | None:
    """(reason, detail) when the visit earns nothing, else None. A training day is the support
    person's, not the patient's: it is not bound to the assignment's support period (the
    assignment only says whose training it was), only to the claim deadline."""
    if visit.kind != "training":
        outside = outside_support_period(visit.date, assignment)
        if outside is not None:
            return outside
    late = (visit.submitted_on - visit.date).days
    if late > deadline_days:
        return "claim_too_late", f"inrapporterad {late} dagar efter besöket (gräns {deadline_days})"
    return None


def outside_support_period(day: date, assignment: Assignment) -> tuple[str, str] | None:
    """The support period: from the assignment's start to 4 weeks after discharge (LPT, LRV,
    smittskyddslagen: the right to a stödperson lasts the compulsory care and 4 weeks after)."""
    if day < assignment.start_date:
        return "outside_support_period", f"före uppdragets start {assignment.start_date}"
    if assignment.care_ended_on is not None and day > assignment.care_ended_on + AFTER_CARE:
        return "outside_support_period", f"mer än 28 dagar efter vårdens slut {assignment.care_ended_on}"
    if assignment.ended_on is not None and day > assignment.ended_on:
        return "outside_support_period", f"efter uppdragets slut {assignment.ended_on}"
    return None


def week_of(day: date) -> str:
    """ISO week label, e.g. 2020-W53 for 2021-01-01: the week a Monday starts, across year ends."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def facts(visit: VisitReported, first_in_week: bool) -> dict[str, str | bool]:
    """The rule facts of a visit: discrete, never amounts, so answers cache well."""
    return {"kind": visit.kind, "first_in_week": first_in_week and visit.kind in WEEKLY_KINDS,
            "has_travel": bool(visit.travel_km),
            "has_lost_income": bool(visit.lost_income) and visit.lost_income_certified}


def lines_for(visit: VisitReported, rules: list[FeeRule], matched: tuple[str, ...],
              claimed_today: Decimal = ZERO) -> list[FeeLine]:
    """One line per matching rule, in schedule order; each line rounded to öre half-up.

    `per: claimed` pays the claim up to what is left of the rule's cap **for the day**:
    `claimed_today` is what the support person's earlier claims of the same date were paid."""
    lines = []
    for rule in rules:
        if rule.id not in matched:
            continue
        if rule.per == "km":
            quantity, unit_price = visit.travel_km or ZERO, rule.amount
        elif rule.per == "claimed":
            quantity, unit_price = Decimal(1), max(ZERO, min(visit.lost_income or ZERO, rule.amount - claimed_today))
        else:
            quantity, unit_price = Decimal(1), rule.amount
        # built without re-validation: every value comes from a validated visit or schedule rule
        lines.append(FeeLine.model_construct(code=rule.id, description=rule.description, quantity=quantity,
                                             unit_price=unit_price, amount=round_ore(quantity * unit_price),
                                             taxable=rule.taxable))
    return lines


def claimed(lines: list[FeeLine] | tuple[FeeLine, ...], rules: list[FeeRule]) -> Decimal:
    """What the `per: claimed` lines pay (to add to the day's total)."""
    capped = {r.id for r in rules if r.per == "claimed"}
    return sum((line.amount for line in lines if line.code in capped), ZERO)


def split(lines: list[FeeLine]) -> tuple[Decimal, Decimal]:
    """(taxable, tax-free) sums of the lines."""
    taxable = sum((line.amount for line in lines if line.taxable), ZERO)
    return taxable, sum((line.amount for line in lines), ZERO) - taxable


def unpaid_until(fees: dict[str, dict[str, Any]], paid: set[str], period: str) -> dict[str, list[str]]:
    """Fee ids per stödperson due at the close of `period`: every unpaid fee of that period or an
    earlier one (a fee that arrived after its own period closed joins the next close)."""
    due: dict[str, list[str]] = {}
    for fee_id, fee in sorted(fees.items()):
        if fee_id not in paid and fee["period"] <= period:
            due.setdefault(fee["sp"], []).append(fee_id)
    return due


# -- a visit seen before ----------------------------------------------------------------------
Seen = Literal["new", "again", "conflict"]
DUPLICATE_VISIT = ("duplicate_visit", "samma besöks-id med annat innehåll")
"""(reason, detail) of a visit id sent again with other content: the first content stands."""


def seen_before(known: str | None, content: str) -> Seen:
    """Is a visit new, the same visit again (no second effect), or its id with other content (a
    conflict, rejected with DUPLICATE_VISIT)? `known` is the content digest already decided or held
    under the visit id, `content` this one's: the visit id is the business key."""
    if known is None:
        return "new"
    return "again" if known == content else "conflict"


def reused_id_detail(event_id: str) -> str:
    """The detail of the refusal of a visit under an event id used before with other content: the
    first event with that id stands, this one is never paid (issue 22)."""
    return (f"Händelse-id {event_id[:100]} har redan använts för ett annat innehåll; besöket betalas inte "
            "under det. Skicka det med ett nytt id.")


# -- is it paid, and how much -----------------------------------------------------------------
NO_VERSION = ("outside_support_period", "ingen arvodesordning gäller datumet")
"""(reason, detail) of a visit dated before every version of the fee schedule."""


def rejection(visit: VisitReported, assignment: Assignment, version: ScheduleVersion | None) -> tuple[str, str] | None:
    """(reason, detail) when the visit earns nothing, else None: no schedule version is in force on
    its date (NO_VERSION), or it is `ineligible` under that version's claim deadline."""
    if version is None:
        return NO_VERSION
    return ineligible(visit, assignment, version.claim_deadline_days)


# -- order does not change a result -----------------------------------------------------------
def visit_order(day: date, visit_id: str) -> str:
    """A visit's place in the canonical order (date, then visit id), as a sortable text. The week's
    arvode goes to the earliest contact of the week and the day's lost-income cap is filled in
    visit-id order, whatever order the visits arrive in (docs/fees.md, "Order")."""
    return f"{day.isoformat()}|{visit_id}"


def takes_week(carrier: str | None, order: str) -> bool:
    """Does a contact at `order` carry its week, given the week's carrier so far (its order, None
    when the week has none)? Yes when it is earlier, or it is the carrier (a replay)."""
    return carrier is None or order <= carrier


def week_lines(with_week: tuple[FeeLine, ...], without: tuple[FeeLine, ...]) -> list[FeeLine]:
    """The lines a visit earns only because it carries its week: those of its price as the week's
    carrier that its price without the week lacks (by rule id)."""
    plain = {line.code for line in without}
    return [line for line in with_week if line.code not in plain]


def allocate_claims(claims: dict[str, dict[str, Any]], rules: list[FeeRule]) -> dict[str, dict[str, Decimal]]:
    """The day's lost-income cap shared out over the day's claims in visit-id order: per visit id,
    per `per: claimed` rule it matched, what it is paid (as lines_for would pay it with the claims
    before it already paid). `claims`: visit id → {"claim": amount as text, "codes": matched rule ids}."""
    out: dict[str, dict[str, Decimal]] = {}
    running = ZERO
    capped = [r for r in rules if r.per == "claimed"]
    for visit_id in sorted(claims):
        claim = Decimal(claims[visit_id]["claim"])
        codes = set(claims[visit_id]["codes"])
        paid = {r.id: round_ore(max(ZERO, min(claim, r.amount - running))) for r in capped if r.id in codes}
        running += sum(paid.values(), ZERO)
        out[visit_id] = paid
    return out


def claimed_before_in_order(claims: dict[str, dict[str, Any]], visit_id: str) -> Decimal:
    """What the day's claims before `visit_id` (in visit-id order) are paid: this claim's cap is
    what is left of the rule's amount after them."""
    return sum((Decimal(p) for vid, c in claims.items() if vid < visit_id for p in c["paid"].values()), ZERO)


def correction_line(line: dict[str, Any], amount: Decimal) -> FeeLine:
    """A line of a correction: `amount` (negative when taken back) under the rule it corrects."""
    return FeeLine.model_construct(code=line["code"], description=f"Rättelse: {line['description']}"[:500],
                                   quantity=Decimal(1), unit_price=amount, amount=amount, taxable=line["taxable"])


def line_json(line: FeeLine) -> dict[str, Any]:
    return {"code": line.code, "description": line.description, "amount": str(line.amount), "taxable": line.taxable}


def persons_partition(support_person_id: str, partitions: int) -> int:
    """The partition of pn.fees.persons a support person's facts go to: crc32 of the id, chosen by
    fees itself, so that every stage (and the tick and close handlers, which act only on their own
    partition's persons) agrees whatever partitioner a client library uses."""
    return zlib.crc32(support_person_id.encode()) % partitions


def fee_period(day: date) -> str:
    """The period (YYYY-MM) a fee belongs to and is paid at the close of: its visit's month, by the
    visit's own date (a Swedish calendar date in the contract)."""
    return day.isoformat()[:7]


def cost_posting(fee_id: str, visit_id: str, period: str, cost_centre: str, cost: Decimal | None,
                 post_costs: bool) -> dict[str, Any] | None:
    """The ledger posting of a fee's cost (the fields of a LedgerPosted), or None: not when the visit
    earns nothing (`cost` None) or the service is set not to post costs (PN_FEES_POST_COSTS). One
    posting per fee, on account group `fees`, for the nämnd's fees cost centre."""
    if cost is None or not post_costs:
        return None
    return {"posting_id": f"fees:{fee_id}", "period": period, "cost_centre": cost_centre, "account_group": "fees",
            "amount": cost, "text": f"Arvode stödperson, besök {visit_id}"}


# -- held visits ------------------------------------------------------------------------------
def hold_expired(held_at: datetime, now: datetime, hold: timedelta) -> bool:
    """Has a visit waited for its assignment as long as it may (`hold`, PN_FEES_HOLD_S)? Then it is
    rejected with `no_assignment`, never dropped silently."""
    return held_at + hold <= now


def no_assignment(assignment_id: str) -> tuple[str, str]:
    """(reason, detail) of a visit whose assignment did not arrive within the hold."""
    return "no_assignment", f"inget uppdrag {assignment_id} inom väntetiden"


def release_order(held: Iterable[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """Held visits (key, entry with the visit as JSON) in the order they are decided when their
    assignment arrives: by visit date, then key (the visit id, under one assignment), so the week's
    arvode and the day's lost-income cap go to the earliest visit, as if they had come in order."""
    return sorted(held, key=lambda kv: (kv[1]["visit"]["date"], kv[0]))


# -- payouts ----------------------------------------------------------------------------------
def payout(period: str, support_person_id: str, fee_ids: list[str], fees: dict[str, Any]) -> FeePayout:
    """The payout of `fee_ids` (each fee as stored: taxable and tax-free sums as text) to one
    support person at a period's close: taxable and tax-free totals and their sum."""
    taxable = sum((Decimal(fees[f]["taxable"]) for f in fee_ids), ZERO)
    tax_free = sum((Decimal(fees[f]["tax_free"]) for f in fee_ids), ZERO)
    return FeePayout(period=period, support_person_id=support_person_id, fee_ids=fee_ids, taxable_total=taxable,
                     tax_free_total=tax_free, total=taxable + tax_free)
