"""Fees handlers: event in → domain decision → events out. The shared Processor does the rest.

Two processors, because faust ties a store's changelog to the partitions of the topic that writes it:
- VISIT_HANDLERS (`pn.support.assignments`, `pn.support.visits`, `pn.ticks`; 4 partitions) keep
  the `fees` store, keyed by cause: `a|<assignment>` (uppdraget), `c|`/`e|<assignment>` (care
  ended / assignment ended), `v|<visit_id>` → content digest of the decided visit,
  `h|<assignment>|<visit_id>` → a visit held until its assignment arrives,
  `w|<assignment>|<ISO week>` → the visit that earned the week's arvode, `f|<fee_id>` → the fee.
  Visits and assignments are keyed differently, so reads cross partitions: with one worker every
  partition is local (docs/fees.md, scale-out).
- BOOK_HANDLERS (`pn.commands`, 1 partition) keep `books`: `closed|<period>` and
  `paid|<period>` → fee ids per stödperson paid at that close, so no fee is paid twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.consumer import Emitter
from shared.events import (
    Envelope,
    FeeCalculated,
    FeePayout,
    FeeRejected,
    LedgerPosted,
    PeriodCloseRequested,
    SupportAssigned,
    SupportCareEnded,
    SupportEnded,
    Tick,
    VisitReported,
    derive_id,
)
from shared.money import ZERO
from shared.ports import Clock, Emit
from shared.state import Store
from shared.topics import FEES_CALCULATED, FEES_PAYOUTS, FEES_REJECTED, FINANCE_POSTINGS

from .domain import Assignment, facts, ineligible, lines_for, split, unpaid_until, week_of
from .rules import FeeSchedule
from .settings import Settings


@dataclass
class Deps:
    fees: Store
    books: Store
    schedule: FeeSchedule
    settings: Settings
    clock: Clock
    log: Any
    emit: Emitter | None = None


def digest(visit: VisitReported) -> str:
    return hashlib.sha1(visit.model_dump_json().encode()).hexdigest()[:16]


def assignment_of(assignment_id: str, fees: Store) -> Assignment | None:
    """The assignment with its end dates, which may have arrived in any order."""
    raw = fees.get(f"a|{assignment_id}")
    if raw is None:
        return None
    return Assignment.from_json({**raw, "care_ended": fees.get(f"c|{assignment_id}"),
                                 "ended": fees.get(f"e|{assignment_id}")})


# -- visits -----------------------------------------------------------------------------------
def on_visit_reported(event: Envelope, *, deps: Deps) -> list[Emit]:
    visit: VisitReported = event.data
    content = digest(visit)
    held_key = f"h|{visit.assignment_id}|{visit.visit_id}"
    known = deps.fees.get(f"v|{visit.visit_id}") or (deps.fees.get(held_key) or {}).get("digest")
    if known == content:
        return []  # the same visit again: no second effect
    if known is not None:
        return [reject(visit, "duplicate_visit", "samma besöks-id med annat innehåll", deps, content)]
    assignment = assignment_of(visit.assignment_id, deps.fees)
    if assignment is None:
        deps.fees[held_key] = {"visit": visit.model_dump(mode="json"), "digest": content,
                               "held_at": deps.clock.now().isoformat()}
        return []
    return decide(visit, content, assignment, deps)


def decide(visit: VisitReported, content: str, assignment: Assignment, deps: Deps) -> list[Emit]:
    """Price an eligible visit, or reject it; the visit is decided once (v|visit_id)."""
    deps.fees[f"v|{visit.visit_id}"] = content
    version = deps.schedule.version_for(visit.date)
    if version is None:
        return [reject(visit, "outside_support_period", "ingen arvodesordning gäller datumet", deps)]
    reason = ineligible(visit, assignment, version.claim_deadline_days)
    if reason is not None:
        return [reject(visit, *reason, deps)]
    week_key = f"w|{visit.assignment_id}|{week_of(visit.date)}"
    owner = deps.fees.get(week_key)
    first = owner in (None, visit.visit_id)
    visit_facts = facts(visit, first)
    if visit_facts["first_in_week"]:
        deps.fees[week_key] = visit.visit_id
    matched = deps.schedule.matching(version, visit_facts)
    lines = lines_for(visit, version.rules, matched)
    taxable, tax_free = split(lines)
    # built without re-validation (hot path): every value comes from the validated visit,
    # assignment and schedule; consumers validate it on read (tests/integration/test_fees.py)
    fee = FeeCalculated.model_construct(
        fee_id=derive_id("fee", visit.visit_id), visit_id=visit.visit_id,
        support_person_id=assignment.support_person_id, lines=lines, total=taxable + tax_free,
        schedule_version=version.version, rule_ids=list(matched), visit_date=visit.date,
        assignment_id=visit.assignment_id)
    period = visit.date.isoformat()[:7]
    deps.fees[f"f|{fee.fee_id}"] = {"sp": fee.support_person_id, "period": period,
                                    "taxable": str(taxable), "tax_free": str(tax_free)}
    out = [deps.emit(FEES_CALCULATED, fee, key=fee.support_person_id, cause=[visit.visit_id])]
    if deps.settings.fees_post_costs and fee.total != ZERO:
        posting = LedgerPosted.model_construct(
            posting_id=f"fees:{fee.fee_id}", period=period, cost_centre=deps.settings.fees_cost_centre,
            account_group="fees", amount=-fee.total, text=f"Arvode stödperson, besök {visit.visit_id}")
        out.append(deps.emit(FINANCE_POSTINGS, posting, key=posting.cost_centre, cause=[fee.fee_id, "cost"]))
    return out


def reject(visit: VisitReported, reason: str, detail: str, deps: Deps, content: str = "") -> Emit:
    data = FeeRejected(visit_id=visit.visit_id, reason=reason, detail=detail,
                       support_person_id=visit.support_person_id)
    return deps.emit(FEES_REJECTED, data, key=visit.support_person_id, cause=[visit.visit_id, reason, content])


# -- assignments ------------------------------------------------------------------------------
def on_assigned(event: Envelope, *, deps: Deps) -> list[Emit]:
    data: SupportAssigned = event.data
    deps.fees[f"a|{data.assignment_id}"] = Assignment(data.support_person_id, data.start_date).to_json()
    return release(data.assignment_id, deps)


def on_care_ended(event: Envelope, *, deps: Deps) -> list[Emit]:
    data: SupportCareEnded = event.data
    deps.fees[f"c|{data.assignment_id}"] = data.care_ended_on.isoformat()
    return []


def on_ended(event: Envelope, *, deps: Deps) -> list[Emit]:
    data: SupportEnded = event.data
    deps.fees[f"e|{data.assignment_id}"] = data.ended_on.isoformat()
    return []


def release(assignment_id: str, deps: Deps) -> list[Emit]:
    """Decide the visits that waited for this assignment, in date order."""
    assignment = assignment_of(assignment_id, deps.fees)
    held = sorted(deps.fees.items_with_prefix(f"h|{assignment_id}|"), key=lambda kv: (kv[1]["visit"]["date"], kv[0]))
    out: list[Emit] = []
    for key, entry in held:
        del deps.fees[key]
        visit = VisitReported.model_validate(entry["visit"])
        if f"v|{visit.visit_id}" not in deps.fees:
            out += decide(visit, entry["digest"], assignment, deps)
    return out


# -- time -------------------------------------------------------------------------------------
def on_tick(event: Envelope, *, deps: Deps) -> list[Emit]:
    """Reject visits held longer than fees_hold_s without an assignment (never dropped silently)."""
    tick: Tick = event.data
    if tick.service != "fees":
        return []
    limit = timedelta(seconds=deps.settings.fees_hold_s)
    out: list[Emit] = []
    for key, entry in list(deps.fees.items_with_prefix("h|")):
        if datetime.fromisoformat(entry["held_at"]) + limit > tick.at:
            continue
        del deps.fees[key]
        visit = VisitReported.model_validate(entry["visit"])
        if f"v|{visit.visit_id}" in deps.fees:
            continue
        deps.fees[f"v|{visit.visit_id}"] = entry["digest"]
        out.append(reject(visit, "no_assignment", f"inget uppdrag {visit.assignment_id} inom väntetiden", deps))
    return out


# -- payouts ----------------------------------------------------------------------------------
def on_close_requested(event: Envelope, *, deps: Deps) -> list[Emit]:
    command: PeriodCloseRequested = event.data
    period = command.period
    if command.service != "fees" or f"closed|{period}" in deps.books:
        return []
    fees = {key[2:]: value for key, value in deps.fees.items_with_prefix("f|")}
    paid = {fee_id for _, by_sp in deps.books.items_with_prefix("paid|") for ids in by_sp.values() for fee_id in ids}
    due = unpaid_until(fees, paid, period)
    deps.books[f"closed|{period}"] = event.id
    deps.books[f"paid|{period}"] = due
    deps.log.info("period_closed", period=period, payouts=len(due), event_id=event.id)
    out = []
    for sp, fee_ids in sorted(due.items()):
        taxable = sum((Decimal(fees[f]["taxable"]) for f in fee_ids), ZERO)
        tax_free = sum((Decimal(fees[f]["tax_free"]) for f in fee_ids), ZERO)
        payout = FeePayout(period=period, support_person_id=sp, fee_ids=fee_ids, taxable_total=taxable,
                           tax_free_total=tax_free, total=taxable + tax_free)
        out.append(deps.emit(FEES_PAYOUTS, payout, key=sp, cause=[period, sp]))
    return out


VISIT_HANDLERS = {
    SupportAssigned.event_type: on_assigned,
    SupportCareEnded.event_type: on_care_ended,
    SupportEnded.event_type: on_ended,
    VisitReported.event_type: on_visit_reported,
    Tick.event_type: on_tick,
}
BOOK_HANDLERS = {PeriodCloseRequested.event_type: on_close_requested}
