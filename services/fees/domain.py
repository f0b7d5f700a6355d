"""Pure decisions about a stödperson's visit: which schedule version, is it eligible, what it earns.

No I/O, clock, logging or faust. The fee schedule's versions and rules are value objects here;
rules.py loads them from YAML and asks durable-rules which rules match a visit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.contract.events import FeeLine, VisitReported
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
