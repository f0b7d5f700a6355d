"""Fees handlers: event in → domain decision → events out. The shared Processor does the rest.

Two processors, because faust ties a store's changelog to the partitions of the topic that writes it:
- VISIT_HANDLERS (`pn.support.assignments`, `pn.support.visits`, `pn.ticks`; 4 partitions) keep
  the `fees` store, keyed by cause: `a|<assignment>` (uppdraget), `c|`/`e|<assignment>` (care
  ended / assignment ended), `v|<visit_id>` → content digest of the decided visit,
  `h|<assignment>|<visit_id>` → a visit held until its assignment arrives, listed in
  `H|<assignment>` (its held visit ids) so that an assignment finds them without a scan,
  `w|<assignment>|<ISO week>` → the visit that earned the week's arvode, `f|<fee_id>` → the fee.
  Visits and assignments are keyed differently, so reads cross partitions: with one worker every
  partition is local (docs/fees.md, scale-out).
- BOOK_HANDLERS (`pn.commands`, 1 partition) keep `books`: `closed|<period>` and
  `issued|<draft id>` → the payout issued for a draft (one write), so no fee is paid twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.contract.events import (
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
    trusted,
)
from shared.contract.topics import (
    FEES_CALCULATED,
    FEES_DRAFTS,
    FEES_PAYOUTS,
    FEES_REJECTED,
    FINANCE_POSTINGS,
)
from shared.kernel.money import ZERO
from shared.service.ports import Clock, Emit
from shared.service.processor import REUSED_ID, Emitter, content_digest
from shared.service.state import Store

from .domain import Assignment, claimed, ineligible, unpaid_until, week_of
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
    parsed: dict[str, tuple[Any, Any, Any, Assignment]] = field(default_factory=dict)
    """Assignments parsed from the store, by id, with the raw values they were parsed from."""


PARSED_KEPT = 4096


def digest(visit: VisitReported) -> str:
    return hashlib.sha1(visit.model_dump_json().encode()).hexdigest()[:16]


def assignment_of(assignment_id: str, fees: Store,
                  parsed: dict[str, tuple[Any, Any, Any, Assignment]] | None = None) -> Assignment | None:
    """The assignment with its end dates, which may have arrived in any order. With `parsed`, the
    parse is reused while the three stored values are equal to those it was made from."""
    raw = fees.get(f"a|{assignment_id}")
    if raw is None:
        return None
    care_ended, ended = fees.get(f"c|{assignment_id}"), fees.get(f"e|{assignment_id}")
    if parsed is not None:
        hit = parsed.get(assignment_id)
        if hit is not None and hit[0] == raw and hit[1] == care_ended and hit[2] == ended:
            return hit[3]
    assignment = Assignment.from_json({**raw, "care_ended": care_ended, "ended": ended})
    if parsed is not None:
        if len(parsed) >= PARSED_KEPT:
            parsed.clear()
        parsed[assignment_id] = (raw, care_ended, ended, assignment)
    return assignment


# -- visits -----------------------------------------------------------------------------------
def on_visit_reported(event: Envelope, *, deps: Deps) -> list[Emit]:
    visit: VisitReported = event.data
    content = digest(visit)
    held_key = f"h|{visit.assignment_id}|{visit.visit_id}"
    known = deps.fees.get(f"v|{visit.visit_id}") or (deps.fees.get(held_key) or {}).get("digest")
    if known == content:
        return []  # the same visit again: no second effect
    if known is not None:
        rejected_key = f"r|{visit.visit_id}|{content}"  # once per conflicting content: idempotent
        if rejected_key in deps.fees:
            return []
        deps.fees[rejected_key] = 1
        return [reject(visit, "duplicate_visit", "samma besöks-id med annat innehåll", deps, content)]
    assignment = assignment_of(visit.assignment_id, deps.fees, deps.parsed)
    if assignment is None:
        hold(visit, content, deps)
        return []
    return decide(visit, content, assignment, deps)


def decide(visit: VisitReported, content: str, assignment: Assignment, deps: Deps) -> list[Emit]:
    """Price an eligible visit, or reject it; the visit is decided once (v|visit_id)."""
    fees, visit_id = deps.fees, visit.visit_id
    fees[f"v|{visit_id}"] = content
    version = deps.schedule.version_for(visit.date)
    if version is None:
        return [reject(visit, "outside_support_period", "ingen arvodesordning gäller datumet", deps)]
    reason = ineligible(visit, assignment, version.claim_deadline_days)
    if reason is not None:
        return [reject(visit, *reason, deps)]
    week_key = f"w|{visit.assignment_id}|{week_of(visit.date)}"
    owner = fees.get(week_key)
    sp = assignment.support_person_id
    # the lost-income cap is per day and support person: `l|<sp>|<date>` → paid so far that day
    day_key = f"l|{sp}|{visit.date.isoformat()}"
    claimed_today = Decimal(fees.get(day_key) or 0) if visit.lost_income else ZERO
    price = deps.schedule.price(version, visit, owner is None or owner == visit_id, claimed_today)
    if price.first_in_week:
        fees[week_key] = visit_id
    paid = claimed(price.lines, version.rules)
    if paid:
        fees[day_key] = str(claimed_today + paid)
    fee_id = derive_id("fee", visit_id)
    # built without re-validation (hot path): every value comes from the validated visit,
    # assignment and schedule; consumers validate it on read (tests/integration/test_fees.py)
    fee = trusted(FeeCalculated, {
        "fee_id": fee_id, "visit_id": visit_id, "support_person_id": sp, "lines": list(price.lines),
        "total": price.total, "schedule_version": version.version, "rule_ids": list(price.rule_ids),
        "visit_date": visit.date, "assignment_id": visit.assignment_id})
    period = visit.date.isoformat()[:7]
    fees[f"f|{fee_id}"] = {"sp": sp, "period": period, "taxable": str(price.taxable), "tax_free": str(price.tax_free)}
    out = [deps.emit(FEES_CALCULATED, fee, key=sp, cause=[visit_id])]
    if price.cost is not None and deps.settings.fees_post_costs:
        cost_centre = deps.settings.fees_cost_centre
        posting = trusted(LedgerPosted, {
            "posting_id": f"fees:{fee_id}", "period": period, "cost_centre": cost_centre, "account_group": "fees",
            "amount": price.cost, "text": f"Arvode stödperson, besök {visit_id}"})
        out.append(deps.emit(FINANCE_POSTINGS, posting, key=cost_centre, cause=[fee_id, "cost"]))
    return out


def reject(visit: VisitReported, reason: str, detail: str, deps: Deps, content: str = "") -> Emit:
    data = FeeRejected(visit_id=visit.visit_id, reason=reason, detail=detail,
                       support_person_id=visit.support_person_id)
    return deps.emit(FEES_REJECTED, data, key=visit.support_person_id, cause=[visit.visit_id, reason, content])


def on_reused_visit(event: Envelope, deps: Deps) -> list[Emit]:
    """A visit under an event id used before with other content (the Processor's id guard):
    refused, never paid; the first event with that id stands (issue 22)."""
    visit: VisitReported = event.data
    detail = (f"Händelse-id {event.id[:100]} har redan använts för ett annat innehåll; besöket betalas inte "
              "under det. Skicka det med ett nytt id.")
    return [reject(visit, REUSED_ID, detail, deps, content=f"{event.id}|{content_digest(event)}")]


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
    """Decide the visits that waited for this assignment, in date order, found by the assignment's
    index `H|<assignment>` (no scan). Held entries without it (written before the index existed)
    are decided by the next tick's sweep instead (on_tick)."""
    ids = deps.fees.get(f"H|{assignment_id}")
    if not ids:
        return []
    del deps.fees[f"H|{assignment_id}"]
    assignment = assignment_of(assignment_id, deps.fees)
    held = [(key, entry) for key in (f"h|{assignment_id}|{vid}" for vid in ids) if (entry := deps.fees.get(key))]
    out: list[Emit] = []
    for key, entry in sorted(held, key=lambda kv: (kv[1]["visit"]["date"], kv[0])):
        out += _decide_held(key, entry, assignment, deps)
    return out


def hold(visit: VisitReported, content: str, deps: Deps) -> None:
    """Keep a visit until its assignment arrives (or the hold expires), and list it in the
    assignment's index `H|<assignment>` (ids whose entry is gone are dropped from it here).

    Both keys are set only here, by the visit's own message: on RocksDB a table keeps one copy of
    a key per partition it was set from, and reads may find any copy, so no key is set from the
    partitions of two topics. Release and tick only delete them."""
    aid, vid = visit.assignment_id, visit.visit_id
    deps.fees[f"h|{aid}|{vid}"] = {"visit": visit.model_dump(mode="json"), "digest": content,
                                   "held_at": deps.clock.now().isoformat()}
    ids = [i for i in deps.fees.get(f"H|{aid}") or () if i != vid and f"h|{aid}|{i}" in deps.fees]
    deps.fees[f"H|{aid}"] = sorted([*ids, vid])


def _decide_held(key: str, entry: dict[str, Any], assignment: Assignment | None, deps: Deps) -> list[Emit]:
    del deps.fees[key]
    visit = VisitReported.model_validate(entry["visit"])
    if assignment is None or f"v|{visit.visit_id}" in deps.fees:
        return []
    return decide(visit, entry["digest"], assignment, deps)


# -- time -------------------------------------------------------------------------------------
def on_tick(event: Envelope, *, deps: Deps) -> list[Emit]:
    """Reject visits held longer than fees_hold_s without an assignment (never dropped silently),
    and decide held visits whose assignment is there (held before the index existed).

    This sweep still scans the held entries (`h|`), once per tick and partition: a scan-free
    tick needs one index of all held visits, which on RocksDB must not be set from several
    partitions (see hold); docs/fees.md, "State"."""
    tick: Tick = event.data
    if tick.service != "fees":
        return []
    limit = timedelta(seconds=deps.settings.fees_hold_s)
    out: list[Emit] = []
    emptied: set[str] = set()
    for key, entry in list(deps.fees.items_with_prefix("h|")):
        aid = entry["visit"]["assignment_id"]
        assignment = assignment_of(aid, deps.fees)
        if assignment is not None:  # an assignment whose release found no index entry for this visit
            out += _decide_held(key, entry, assignment, deps)
            emptied.add(aid)
            continue
        if datetime.fromisoformat(entry["held_at"]) + limit > tick.at:
            continue
        del deps.fees[key]
        emptied.add(aid)
        visit = VisitReported.model_validate(entry["visit"])
        if f"v|{visit.visit_id}" in deps.fees:
            continue
        deps.fees[f"v|{visit.visit_id}"] = entry["digest"]
        out.append(reject(visit, "no_assignment", f"inget uppdrag {visit.assignment_id} inom väntetiden", deps))
    for aid in sorted(emptied):  # an index with none of its visits left goes; one with some is pruned by hold
        ids = deps.fees.get(f"H|{aid}") or ()
        if not any(f"h|{aid}|{vid}" in deps.fees for vid in ids) and f"H|{aid}" in deps.fees:
            del deps.fees[f"H|{aid}"]
    return out


# -- payouts ----------------------------------------------------------------------------------
def on_close_requested(event: Envelope, *, deps: Deps) -> list[Emit]:
    """Propose the period's payouts as drafts on the one-partition drafts topic. A close replayed
    after a crash may see more fees, but its drafts carry the same ids, so the first one wins."""
    command: PeriodCloseRequested = event.data
    period = command.period
    if command.service != "fees" or f"closed|{period}" in deps.books:
        return []
    fees = {key[2:]: value for key, value in deps.fees.items_with_prefix("f|")}
    due = unpaid_until(fees, _paid(deps.books), period)
    deps.books[f"closed|{period}"] = event.id
    deps.log.info("period_closed", period=period, drafts=len(due), event_id=event.id)
    return [deps.emit(FEES_DRAFTS, _payout(period, sp, fee_ids, fees), key=sp, cause=[period, sp, "draft"])
            for sp, fee_ids in sorted(due.items())]


def on_payout_drafted(event: Envelope, *, deps: Deps) -> list[Emit]:
    """Issue a draft, in drafts-topic order: fees an earlier draft paid are left out (a later
    period's close may have been read before an earlier close's drafts). The issued payout is
    stored under the draft's id in one write, so a replay re-emits exactly the same payout."""
    draft: FeePayout = event.data
    key = f"issued|{event.id}"
    issued = deps.books.get(key)
    if issued is None:
        paid = _paid(deps.books)
        fee_ids = [f for f in draft.fee_ids if f not in paid]
        fees = {f: deps.fees.get(f"f|{f}") for f in fee_ids}
        issued = _payout(draft.period, draft.support_person_id, fee_ids, fees).model_dump(mode="json")
        deps.books[key] = issued
    payout = FeePayout.model_validate(issued)
    if not payout.fee_ids:
        return []
    return [deps.emit(FEES_PAYOUTS, payout, key=payout.support_person_id,
                      cause=[payout.period, payout.support_person_id])]


def _paid(books: Store) -> set[str]:
    """Fee ids on an issued payout (drafts already issued, including this batch's)."""
    return {fee_id for _, payout in books.items_with_prefix("issued|") for fee_id in payout["fee_ids"]}


def _payout(period: str, sp: str, fee_ids: list[str], fees: dict[str, Any]) -> FeePayout:
    taxable = sum((Decimal(fees[f]["taxable"]) for f in fee_ids), ZERO)
    tax_free = sum((Decimal(fees[f]["tax_free"]) for f in fee_ids), ZERO)
    return FeePayout(period=period, support_person_id=sp, fee_ids=fee_ids, taxable_total=taxable,
                     tax_free_total=tax_free, total=taxable + tax_free)


VISIT_HANDLERS = {
    SupportAssigned.event_type: on_assigned,
    SupportCareEnded.event_type: on_care_ended,
    SupportEnded.event_type: on_ended,
    VisitReported.event_type: on_visit_reported,
    Tick.event_type: on_tick,
}
REUSED_HANDLERS = {VisitReported.event_type: on_reused_visit}
"""Business rejections of an event id reused with other content (Processor.on_reused)."""
BOOK_HANDLERS = {PeriodCloseRequested.event_type: on_close_requested, FeePayout.event_type: on_payout_drafted}
