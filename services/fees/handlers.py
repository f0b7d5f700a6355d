"""Fees handlers: event in → domain decision → events out. The shared Processor does the rest.

Two processors, because faust ties a store's changelog to the partitions of the topic that writes it:
- VISIT_HANDLERS (`pn.support.assignments`, `pn.support.visits`, `pn.ticks`; 4 partitions) keep
  the `fees` store, keyed by cause (every key is named in keys.py): the assignment, its care-ended
  and ended dates, the content digest of each decided visit, visits held until their assignment
  arrives with the assignment's index of them (so an assignment finds them without a scan), the
  visit that earned each week's arvode, the lost income paid per person and day, and the fees.
  Visits and assignments are keyed differently, so reads cross partitions: with one worker every
  partition is local (docs/fees.md, scale-out).
- BOOK_HANDLERS (`pn.commands`, 1 partition) keep `books`: the closed periods and the payout
  issued for each draft (one write), so no fee is paid twice.
Every decision (duplicate, eligibility, price, period, expiry, payout sums) is a pure function in
domain.py; a handler reads facts, calls it, writes the answer and returns the events.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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
from shared.service.ports import Clock, Emit
from shared.service.processor import REUSED_ID, Emitter, content_digest
from shared.service.state import Store

from . import keys
from .domain import (
    DUPLICATE_VISIT,
    NO_VERSION,
    Assignment,
    claimed_before,
    cost_posting,
    day_total_after,
    earns_week,
    fee_period,
    hold_expired,
    no_assignment,
    paid_fees,
    payout,
    rejection,
    release_order,
    reused_id_detail,
    seen_before,
    unpaid,
    unpaid_until,
    week_of,
)
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
    raw = fees.get(keys.assignment(assignment_id))
    if raw is None:
        return None
    care_ended, ended = fees.get(keys.care_ended(assignment_id)), fees.get(keys.ended(assignment_id))
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
    held_key = keys.held(visit.assignment_id, visit.visit_id)
    known = deps.fees.get(keys.visit(visit.visit_id)) or (deps.fees.get(held_key) or {}).get("digest")
    seen = seen_before(known, content)
    if seen == "again":
        return []  # the same visit again: no second effect
    if seen == "conflict":
        rejected_key = keys.conflict(visit.visit_id, content)  # once per conflicting content: idempotent
        if rejected_key in deps.fees:
            return []
        deps.fees[rejected_key] = 1
        return [reject(visit, *DUPLICATE_VISIT, deps, content)]
    assignment = assignment_of(visit.assignment_id, deps.fees, deps.parsed)
    if assignment is None:
        hold(visit, content, deps)
        return []
    return decide(visit, content, assignment, deps)


def decide(visit: VisitReported, content: str, assignment: Assignment, deps: Deps) -> list[Emit]:
    """Price an eligible visit, or reject it; the visit is decided once (keys.visit)."""
    fees, visit_id = deps.fees, visit.visit_id
    fees[keys.visit(visit_id)] = content
    version = deps.schedule.version_for(visit.date)
    reason = rejection(visit, assignment, version)  # also when no version covers the date
    if reason is not None or version is None:
        return [reject(visit, *(reason or NO_VERSION), deps)]
    week_key = keys.week(visit.assignment_id, week_of(visit.date))
    owner = fees.get(week_key)
    sp = assignment.support_person_id
    # the lost-income cap is per day and support person: paid so far that day (read only when claimed)
    day_key = keys.lost_income_day(sp, visit.date)
    claimed_today = claimed_before(visit, fees.get(day_key) if visit.lost_income else None)
    price = deps.schedule.price(version, visit, earns_week(owner, visit_id), claimed_today)
    if price.first_in_week:
        fees[week_key] = visit_id
    day_total = day_total_after(claimed_today, price.lines, version.rules)
    if day_total is not None:
        fees[day_key] = str(day_total)
    fee_id = derive_id("fee", visit_id)
    # built without re-validation (hot path): every value comes from the validated visit,
    # assignment and schedule; consumers validate it on read (tests/integration/test_fees.py)
    fee = trusted(FeeCalculated, {
        "fee_id": fee_id, "visit_id": visit_id, "support_person_id": sp, "lines": list(price.lines),
        "total": price.total, "schedule_version": version.version, "rule_ids": list(price.rule_ids),
        "visit_date": visit.date, "assignment_id": visit.assignment_id})
    period = fee_period(visit.date)
    fees[keys.fee(fee_id)] = {"sp": sp, "period": period, "taxable": str(price.taxable),
                              "tax_free": str(price.tax_free)}
    out = [deps.emit(FEES_CALCULATED, fee, key=sp, cause=[visit_id])]
    cost_centre = deps.settings.fees_cost_centre
    posting = cost_posting(fee_id, visit_id, period, cost_centre, price.cost, deps.settings.fees_post_costs)
    if posting is not None:
        out.append(deps.emit(FINANCE_POSTINGS, trusted(LedgerPosted, posting), key=cost_centre,
                             cause=[fee_id, "cost"]))
    return out


def reject(visit: VisitReported, reason: str, detail: str, deps: Deps, content: str = "") -> Emit:
    data = FeeRejected(visit_id=visit.visit_id, reason=reason, detail=detail,
                       support_person_id=visit.support_person_id)
    return deps.emit(FEES_REJECTED, data, key=visit.support_person_id, cause=[visit.visit_id, reason, content])


def on_reused_visit(event: Envelope, deps: Deps) -> list[Emit]:
    """A visit under an event id used before with other content (the Processor's id guard):
    refused, never paid; the first event with that id stands (issue 22)."""
    visit: VisitReported = event.data
    cause = f"{event.id}|{content_digest(event)}"  # part of the rejection's cause, not a store key
    return [reject(visit, REUSED_ID, reused_id_detail(event.id), deps, content=cause)]


# -- assignments ------------------------------------------------------------------------------
def on_assigned(event: Envelope, *, deps: Deps) -> list[Emit]:
    data: SupportAssigned = event.data
    deps.fees[keys.assignment(data.assignment_id)] = Assignment(data.support_person_id, data.start_date).to_json()
    return release(data.assignment_id, deps)


def on_care_ended(event: Envelope, *, deps: Deps) -> list[Emit]:
    data: SupportCareEnded = event.data
    deps.fees[keys.care_ended(data.assignment_id)] = data.care_ended_on.isoformat()
    return []


def on_ended(event: Envelope, *, deps: Deps) -> list[Emit]:
    data: SupportEnded = event.data
    deps.fees[keys.ended(data.assignment_id)] = data.ended_on.isoformat()
    return []


def release(assignment_id: str, deps: Deps) -> list[Emit]:
    """Decide the visits that waited for this assignment, in date order, found by the assignment's
    index (keys.held_index, no scan). Held entries without it (written before the index existed)
    are decided by the next tick's sweep instead (on_tick)."""
    index_key = keys.held_index(assignment_id)
    ids = deps.fees.get(index_key)
    if not ids:
        return []
    del deps.fees[index_key]
    assignment = assignment_of(assignment_id, deps.fees)
    held = [(key, entry) for key in (keys.held(assignment_id, vid) for vid in ids) if (entry := deps.fees.get(key))]
    out: list[Emit] = []
    for key, entry in release_order(held):
        out += _decide_held(key, entry, assignment, deps)
    return out


def hold(visit: VisitReported, content: str, deps: Deps) -> None:
    """Keep a visit until its assignment arrives (or the hold expires), and list it in the
    assignment's index (keys.held_index; ids whose entry is gone are dropped from it here).

    Both keys are set only here, by the visit's own message: on RocksDB a table keeps one copy of
    a key per partition it was set from, and reads may find any copy, so no key is set from the
    partitions of two topics. Release and tick only delete them."""
    aid, vid = visit.assignment_id, visit.visit_id
    deps.fees[keys.held(aid, vid)] = {"visit": visit.model_dump(mode="json"), "digest": content,
                                      "held_at": deps.clock.now().isoformat()}
    ids = [i for i in deps.fees.get(keys.held_index(aid)) or () if i != vid and keys.held(aid, i) in deps.fees]
    deps.fees[keys.held_index(aid)] = sorted([*ids, vid])


def _decide_held(key: str, entry: dict[str, Any], assignment: Assignment | None, deps: Deps) -> list[Emit]:
    del deps.fees[key]
    visit = VisitReported.model_validate(entry["visit"])
    if assignment is None or keys.visit(visit.visit_id) in deps.fees:
        return []
    return decide(visit, entry["digest"], assignment, deps)


# -- time -------------------------------------------------------------------------------------
def on_tick(event: Envelope, *, deps: Deps) -> list[Emit]:
    """Reject visits held longer than fees_hold_s without an assignment (never dropped silently),
    and decide held visits whose assignment is there (held before the index existed).

    This sweep still scans the held entries (keys.HELD), once per tick and partition: a scan-free
    tick needs one index of all held visits, which on RocksDB must not be set from several
    partitions (see hold); docs/fees.md, "State"."""
    tick: Tick = event.data
    if tick.service != "fees":
        return []
    limit = timedelta(seconds=deps.settings.fees_hold_s)
    out: list[Emit] = []
    emptied: set[str] = set()
    for key, entry in list(deps.fees.items_with_prefix(keys.HELD)):
        aid = entry["visit"]["assignment_id"]
        assignment = assignment_of(aid, deps.fees)
        if assignment is not None:  # an assignment whose release found no index entry for this visit
            out += _decide_held(key, entry, assignment, deps)
            emptied.add(aid)
            continue
        if not hold_expired(datetime.fromisoformat(entry["held_at"]), tick.at, limit):
            continue
        del deps.fees[key]
        emptied.add(aid)
        visit = VisitReported.model_validate(entry["visit"])
        if keys.visit(visit.visit_id) in deps.fees:
            continue
        deps.fees[keys.visit(visit.visit_id)] = entry["digest"]
        out.append(reject(visit, *no_assignment(visit.assignment_id), deps))
    for aid in sorted(emptied):  # an index with none of its visits left goes; one with some is pruned by hold
        index_key = keys.held_index(aid)
        ids = deps.fees.get(index_key) or ()
        if not any(keys.held(aid, vid) in deps.fees for vid in ids) and index_key in deps.fees:
            del deps.fees[index_key]
    return out


# -- payouts ----------------------------------------------------------------------------------
def on_close_requested(event: Envelope, *, deps: Deps) -> list[Emit]:
    """Propose the period's payouts as drafts on the one-partition drafts topic. A close replayed
    after a crash may see more fees, but its drafts carry the same ids, so the first one wins."""
    command: PeriodCloseRequested = event.data
    period = command.period
    if command.service != "fees" or keys.closed(period) in deps.books:
        return []
    fees = {keys.fee_id(key): value for key, value in deps.fees.items_with_prefix(keys.FEES)}
    due = unpaid_until(fees, _paid(deps.books), period)
    deps.books[keys.closed(period)] = event.id
    deps.log.info("period_closed", period=period, drafts=len(due), event_id=event.id)
    return [deps.emit(FEES_DRAFTS, payout(period, sp, fee_ids, fees), key=sp, cause=[period, sp, "draft"])
            for sp, fee_ids in sorted(due.items())]


def on_payout_drafted(event: Envelope, *, deps: Deps) -> list[Emit]:
    """Issue a draft, in drafts-topic order: fees an earlier draft paid are left out (a later
    period's close may have been read before an earlier close's drafts). The issued payout is
    stored under the draft's id in one write, so a replay re-emits exactly the same payout."""
    draft: FeePayout = event.data
    key = keys.issued(event.id)
    issued = deps.books.get(key)
    if issued is None:
        fee_ids = unpaid(draft.fee_ids, _paid(deps.books))
        fees = {f: deps.fees.get(keys.fee(f)) for f in fee_ids}
        issued = payout(draft.period, draft.support_person_id, fee_ids, fees).model_dump(mode="json")
        deps.books[key] = issued
    paying = FeePayout.model_validate(issued)
    if not paying.fee_ids:
        return []
    return [deps.emit(FEES_PAYOUTS, paying, key=paying.support_person_id,
                      cause=[paying.period, paying.support_person_id])]


def _paid(books: Store) -> set[str]:
    """Fee ids on an issued payout (drafts already issued, including this batch's)."""
    return paid_fees(issued for _, issued in books.items_with_prefix(keys.ISSUED))


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
