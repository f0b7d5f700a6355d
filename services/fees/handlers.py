"""Fees handlers: event in → domain decision → events out. The shared Processor does the rest.

Three processors, because faust ties a store's changelog to the partitions of the topic that writes
it, and because every read must be local to the partition of the input that triggers it (so that
several workers, each with some partitions, decide alike; docs/fees.md, "State and scale-out"):
- ROUTE_HANDLERS (`pn.support.assignments`, `pn.support.visits`; 4 partitions): stage 1, the
  repartition. Each fact goes on to `pn.fees.persons` keyed by its support person, on the
  partition fees chooses (domain.persons_partition). A visit names its person; an assignment's end
  dates name only the assignment, so `routes` (keyed by assignment, the assignments' own key)
  keeps each assignment's person and holds end dates that came before it.
- VISIT_HANDLERS (`pn.fees.persons`, `pn.ticks`; 4 partitions): stage 2, keep `persons`, every key
  of one support person, written from that person's partition only: the assignment, its end dates,
  the content digest of each decided visit, visits held until their assignment arrives with the
  assignment's index of them, the week's carrier, the day's lost-income claims, the fees, and each
  partition's closes (the persons' drafts).
- BOOK_HANDLERS (`pn.commands`, `pn.fees.drafts`; 1 partition) keep `books`: the closed periods
  (a close is broadcast to every partition of `pn.fees.persons`) and the payout issued per draft.
Every decision (duplicate, eligibility, price, week and cap in canonical order, period, expiry,
payout sums) is a pure function in domain.py; a handler reads facts, calls it, writes the answer
and returns the events.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
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
    decode,
    derive_id,
    encode,
    trusted,
)
from shared.contract.topics import (
    FEES_CALCULATED,
    FEES_DRAFTS,
    FEES_PAYOUTS,
    FEES_PERSONS,
    FEES_REJECTED,
    FINANCE_POSTINGS,
)
from shared.kernel.money import ZERO
from shared.service.ports import Clock, Emit
from shared.service.processor import REUSED_ID, Emitter, content_digest
from shared.service.state import Store

from . import keys
from .domain import (
    DUPLICATE_VISIT,
    NO_VERSION,
    WEEKLY_KINDS,
    Assignment,
    allocate_claims,
    claimed_before_in_order,
    correction_line,
    cost_posting,
    fee_period,
    hold_expired,
    line_json,
    no_assignment,
    payout,
    persons_partition,
    rejection,
    release_order,
    reused_id_detail,
    seen_before,
    takes_week,
    unpaid_until,
    visit_order,
    week_lines,
    week_of,
)
from .rules import FeeSchedule
from .settings import Settings


@dataclass
class Deps:
    fees: Store
    """`persons`: stage 2's state, per support person (keys.py)."""
    books: Store
    schedule: FeeSchedule
    settings: Settings
    clock: Clock
    log: Any
    routes: Store | None = None
    """Stage 1's state, per assignment (keys.route, keys.pending_ends)."""
    emit: Emitter | None = None
    partition: Callable[[], int] = lambda: 0
    """The partition of the message being handled in stage 2 (the Processor's)."""
    parsed: dict[str, tuple[Any, Any, Any, Assignment]] = field(default_factory=dict)
    """Assignments parsed from the store, by id, with the raw values they were parsed from."""


PARSED_KEPT = 4096


def digest(visit: VisitReported) -> str:
    return hashlib.sha1(visit.model_dump_json().encode()).hexdigest()[:16]


def person_partition(support_person_id: str) -> int:
    return persons_partition(support_person_id, FEES_PERSONS.partitions)


def mine(support_person_id: str, deps: Deps) -> bool:
    """Is this support person's state on the partition being handled (ticks and closes reach
    every partition and act only on their own persons)?"""
    return person_partition(support_person_id) == deps.partition()


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


# -- stage 1: re-key by support person ---------------------------------------------------------
def forward(event: Envelope, support_person_id: str) -> Emit:
    """The input as it came (same id, same bytes) onto pn.fees.persons, on its person's partition."""
    return Emit(FEES_PERSONS, support_person_id, event, partition=person_partition(support_person_id))


def route_visit(event: Envelope, *, deps: Deps) -> list[Emit]:
    return [forward(event, event.data.support_person_id)]


def route_assigned(event: Envelope, *, deps: Deps) -> list[Emit]:
    """Remember the assignment's person and send it on, with any end dates that came before it."""
    routes = _routes(deps)
    data: SupportAssigned = event.data
    sp = data.support_person_id
    routes[keys.route(data.assignment_id)] = sp
    out = [forward(event, sp)]
    pending = routes.get(keys.pending_ends(data.assignment_id))
    if pending:
        out += [forward(decode(raw), sp) for raw in pending]
        del routes[keys.pending_ends(data.assignment_id)]
    return out


def route_end(event: Envelope, *, deps: Deps) -> list[Emit]:
    """Send an end date on to its assignment's person, or hold it until the assignment comes."""
    routes = _routes(deps)
    aid = event.data.assignment_id
    sp = routes.get(keys.route(aid))
    if sp is not None:
        return [forward(event, sp)]
    pending = [raw for raw in routes.get(keys.pending_ends(aid)) or () if decode(raw).id != event.id]
    routes[keys.pending_ends(aid)] = [*pending, encode(event).decode()]
    return []


def _routes(deps: Deps) -> Store:
    assert deps.routes is not None, "stage 1 needs the routes store"
    return deps.routes


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
    if assignment is None or assignment.support_person_id != visit.support_person_id:
        hold(visit, content, deps)  # an assignment of another person is not this person's to claim
        return []
    return decide(visit, content, assignment, deps)


def decide(visit: VisitReported, content: str, assignment: Assignment, deps: Deps) -> list[Emit]:
    """Price an eligible visit, or reject it; the visit is decided once (keys.visit). The week's
    arvode and the day's lost-income cap are decided in canonical order (date, visit id): a visit
    earlier than one already paid takes its share, and the later visit gets a correction."""
    fees, visit_id = deps.fees, visit.visit_id
    fees[keys.visit(visit_id)] = content
    version = deps.schedule.version_for(visit.date)
    reason = rejection(visit, assignment, version)  # also when no version covers the date
    if reason is not None or version is None:
        return [reject(visit, *(reason or NO_VERSION), deps)]
    sp, aid = assignment.support_person_id, visit.assignment_id
    period = fee_period(visit.date)
    corrections: dict[str, tuple[dict[str, Any], list[Any]]] = {}  # visit id → (its facts, lines)
    # the week: its earliest contact by (date, visit id) carries it
    weekly = visit.kind in WEEKLY_KINDS
    week_key = keys.week(aid, week_of(visit.date)) if weekly else ""
    carrier = fees.get(week_key) if weekly else None
    order = visit_order(visit.date, visit_id)
    first = weekly and takes_week(carrier and carrier["order"], order)
    # the day's lost-income cap: shared out over the person's claims of the day in visit-id order
    day_key = keys.lost_income_day(sp, visit.date) if visit.lost_income else ""
    day = fees.get(day_key) if visit.lost_income else None
    claims: dict[str, dict[str, Any]] = dict(day["claims"]) if day else {}
    claimed_today = claimed_before_in_order(claims, visit_id) if claims else ZERO
    price = deps.schedule.price(version, visit, first, claimed_today)
    me = {"visit": visit_id, "aid": aid, "date": visit.date.isoformat(), "version": version.version,
          "period": period} if first or visit.lost_income else {}
    if first:
        if carrier is None or carrier["visit"] != visit_id:
            plain = deps.schedule.price(version, visit, False, claimed_today)
            lines = week_lines(price.lines, plain.lines)
            if carrier is not None:  # the week moves to this earlier contact
                corrections[carrier["visit"]] = (carrier, [correction_line(line, -Decimal(line["amount"]))
                                                           for line in carrier["lines"]])
            fees[week_key] = {**me, "order": order, "lines": [line_json(line) for line in lines]}
    capped = deps.schedule.capped(version) if visit.lost_income else ()
    paid_now = {line.code: line.amount for line in price.lines if line.code in capped}
    if paid_now:
        claims[visit_id] = {**me, "claim": str(visit.lost_income), "codes": sorted(paid_now),
                            "paid": {code: str(amount) for code, amount in paid_now.items()},
                            "lines": {line.code: line_json(line) for line in price.lines if line.code in capped}}
        shares = allocate_claims(claims, version.rules)
        for other, entry in sorted(claims.items()):
            if other <= visit_id:
                continue
            deltas = [(code, share - Decimal(entry["paid"].get(code, "0"))) for code, share in shares[other].items()]
            changed = [(code, d) for code, d in deltas if d != ZERO]
            if not changed:
                continue
            facts, lines = corrections.setdefault(other, (entry, []))
            lines += [correction_line(entry["lines"][code], d) for code, d in changed]
            claims[other] = {**entry, "paid": {code: str(share) for code, share in shares[other].items()}}
        fees[day_key] = {"claims": claims}
    fee_id = derive_id("fee", visit_id)
    # built without re-validation (hot path): every value comes from the validated visit,
    # assignment and schedule; consumers validate it on read (tests/integration/test_fees.py)
    fee = trusted(FeeCalculated, {
        "fee_id": fee_id, "visit_id": visit_id, "support_person_id": sp, "lines": list(price.lines),
        "total": price.total, "schedule_version": version.version, "rule_ids": list(price.rule_ids),
        "visit_date": visit.date, "assignment_id": aid, "corrects": None})
    fees[keys.fee(fee_id)] = {"sp": sp, "period": period, "taxable": str(price.taxable),
                              "tax_free": str(price.tax_free)}
    out = [deps.emit(FEES_CALCULATED, fee, key=sp, cause=[visit_id])]
    out += _post(fee_id, visit_id, period, price.cost, deps)
    for other, (facts, lines) in sorted(corrections.items()):
        out += correct(other, facts, lines, sp, visit_id, deps)
    return out


def correct(visit_id: str, facts: dict[str, Any], lines: list[Any], sp: str, cause: str, deps: Deps) -> list[Emit]:
    """A correction of an earlier visit's fee caused by visit `cause` (same ids on a replay): the
    lines are differences, so the visit's fees sum to what it earns in canonical order."""
    taxable = sum((line.amount for line in lines if line.taxable), ZERO)
    total = sum((line.amount for line in lines), ZERO)
    fee_id = derive_id("fee", visit_id, "correction", cause)
    fee = trusted(FeeCalculated, {
        "fee_id": fee_id, "visit_id": visit_id, "support_person_id": sp, "lines": lines, "total": total,
        "schedule_version": facts["version"], "rule_ids": sorted({line.code for line in lines}),
        "visit_date": datetime.fromisoformat(facts["date"]).date(), "assignment_id": facts["aid"],
        "corrects": derive_id("fee", visit_id)})
    deps.fees[keys.fee(fee_id)] = {"sp": sp, "period": facts["period"], "taxable": str(taxable),
                                   "tax_free": str(total - taxable), "corrects": visit_id}
    out = [deps.emit(FEES_CALCULATED, fee, key=sp, cause=[visit_id, "correction", cause])]
    return out + _post(fee_id, visit_id, facts["period"], -total if total != ZERO else None, deps)


def _post(fee_id: str, visit_id: str, period: str, cost: Decimal | None, deps: Deps) -> list[Emit]:
    cost_centre = deps.settings.fees_cost_centre
    posting = cost_posting(fee_id, visit_id, period, cost_centre, cost, deps.settings.fees_post_costs)
    if posting is None:
        return []
    return [deps.emit(FINANCE_POSTINGS, trusted(LedgerPosted, posting), key=cost_centre, cause=[fee_id, "cost"])]


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
    """Decide the visits that waited for this assignment, found by the assignment's index
    (keys.held_index, no scan); visits of another support person stay held (and expire)."""
    index_key = keys.held_index(assignment_id)
    ids = deps.fees.get(index_key)
    if not ids:
        return []
    assignment = assignment_of(assignment_id, deps.fees)
    held = [(key, entry) for key in (keys.held(assignment_id, vid) for vid in ids) if (entry := deps.fees.get(key))]
    out: list[Emit] = []
    left = []
    for key, entry in release_order(held):
        if assignment is None or entry["visit"]["support_person_id"] != assignment.support_person_id:
            left.append(entry["visit"]["visit_id"])
            continue
        out += _decide_held(key, entry, assignment, deps)
    if left:
        deps.fees[index_key] = sorted(left)
    else:
        del deps.fees[index_key]
    return out


def hold(visit: VisitReported, content: str, deps: Deps) -> None:
    """Keep a visit until its assignment arrives (or the hold expires), and list it in the
    assignment's index (keys.held_index; ids whose entry is gone are dropped from it here).
    Both keys are the visit's person's, set from that person's partition only."""
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
    """Reject visits held longer than fees_hold_s without their assignment (never dropped
    silently). A tick reaches every partition and acts on its own partition's persons only, so
    each key keeps one writing partition; it decides nothing else, so a replay after a crash
    meets the same fees at a close. The sweep scans the held entries (keys.HELD) once per tick."""
    tick: Tick = event.data
    if tick.service != "fees":
        return []
    limit = timedelta(seconds=deps.settings.fees_hold_s)
    out: list[Emit] = []
    emptied: set[str] = set()
    for key, entry in list(deps.fees.items_with_prefix(keys.HELD)):
        if not mine(entry["visit"]["support_person_id"], deps):
            continue
        if not hold_expired(datetime.fromisoformat(entry["held_at"]), tick.at, limit):
            continue
        aid = entry["visit"]["assignment_id"]
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
    """books: a period's close, once, broadcast to every partition of pn.fees.persons, where each
    partition drafts its own persons' payouts (their fees are there)."""
    command: PeriodCloseRequested = event.data
    period = command.period
    if command.service != "fees" or keys.closed(period) in deps.books:
        return []
    deps.books[keys.closed(period)] = event.id
    deps.log.info("period_closed", period=period, event_id=event.id)
    return [replace(deps.emit(FEES_PERSONS, command, key=None, cause=[period, partition, "close"]),
                    partition=partition) for partition in range(FEES_PERSONS.partitions)]


def on_close_partition(event: Envelope, *, deps: Deps) -> list[Emit]:
    """persons: a close on one partition drafts, per support person of this partition, every fee of
    the period or earlier not drafted before, and marks them drafted (one write with the fee), so
    each fee is drafted once; the drafts go to the one-partition drafts topic (ids from period and
    person). Only fees decided on this partition's log before the close are drafted, so a close
    replayed after a crash drafts the same fees."""
    command: PeriodCloseRequested = event.data
    period, partition = command.period, deps.partition()
    done = keys.closed_partition(period, partition)
    if command.service != "fees" or done in deps.fees:
        return []
    deps.fees[done] = event.id
    fees = {keys.fee_id(key): value for key, value in deps.fees.items_with_prefix(keys.FEES)
            if "drafted" not in value and mine(value["sp"], deps)}
    due = unpaid_until(fees, set(), period)
    for fee_ids in due.values():
        for fee_id in fee_ids:
            deps.fees[keys.fee(fee_id)] = {**fees[fee_id], "drafted": period}
    deps.log.info("period_drafted", period=period, partition=partition, drafts=len(due))
    return [deps.emit(FEES_DRAFTS, payout(period, sp, fee_ids, fees), key=sp, cause=[period, sp, "draft"])
            for sp, fee_ids in sorted(due.items())]


def on_payout_drafted(event: Envelope, *, deps: Deps) -> list[Emit]:
    """books: issue a draft, the first with its id (a draft re-sent after a crash carries the same
    id and the same fees); stored under the draft's id in one write, so a replay re-emits exactly
    the same payout. Each fee is on one draft only (on_close_partition marks it)."""
    draft: FeePayout = event.data
    key = keys.issued(event.id)
    issued = deps.books.get(key)
    if issued is None:
        issued = draft.model_dump(mode="json")
        deps.books[key] = issued
    paying = FeePayout.model_validate(issued)
    if not paying.fee_ids:
        return []
    return [deps.emit(FEES_PAYOUTS, paying, key=paying.support_person_id,
                      cause=[paying.period, paying.support_person_id])]


ROUTE_HANDLERS = {
    SupportAssigned.event_type: route_assigned,
    SupportCareEnded.event_type: route_end,
    SupportEnded.event_type: route_end,
    VisitReported.event_type: route_visit,
}
VISIT_HANDLERS = {
    SupportAssigned.event_type: on_assigned,
    SupportCareEnded.event_type: on_care_ended,
    SupportEnded.event_type: on_ended,
    VisitReported.event_type: on_visit_reported,
    Tick.event_type: on_tick,
    PeriodCloseRequested.event_type: on_close_partition,
}
REUSED_HANDLERS = {VisitReported.event_type: on_reused_visit}
"""Business rejections of an event id reused with other content (Processor.on_reused)."""
BOOK_HANDLERS = {PeriodCloseRequested.event_type: on_close_requested, FeePayout.event_type: on_payout_drafted}
