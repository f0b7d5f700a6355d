"""Fees handlers: event in → domain decision → events out. The shared Processor does the rest.

Two processors, because faust ties a store's changelog to the partitions of the topic that writes it:
- VISIT_HANDLERS (`pn.support.assignments`, `pn.support.visits`, `pn.ticks`; 4 partitions) keep
  the `fees` store, keyed by cause: `a|<assignment>` (uppdraget), `c|`/`e|<assignment>` (care
  ended / assignment ended), `v|<visit_id>` → content digest of the decided visit,
  `h|<assignment>|<visit_id>` → a visit held until its assignment arrives, indexed (never
  scanned) by `H|<assignment>` → its held visit ids and `held` → {assignment: earliest held_at},
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
from typing import Any, TypeVar

from pydantic import BaseModel

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
from shared.topics import (
    FEES_CALCULATED,
    FEES_DRAFTS,
    FEES_PAYOUTS,
    FEES_REJECTED,
    FINANCE_POSTINGS,
)

from .domain import Assignment, ineligible, unpaid_until, week_of
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
    price = deps.schedule.price(version, visit, owner is None or owner == visit_id)
    if price.first_in_week:
        fees[week_key] = visit_id
    fee_id, sp = derive_id("fee", visit_id), assignment.support_person_id
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


M = TypeVar("M", bound=BaseModel)
_set = object.__setattr__


def trusted(cls: type[M], values: dict[str, Any]) -> M:
    """`cls.model_construct(**values)` for values that are already valid and name every field (in
    declaration order), without its per-field walk for aliases and defaults (~2 µs a model).
    tests/unit/fees/test_trusted.py checks it equals model_construct for the models built here."""
    if len(values) != len(cls.__pydantic_fields__):  # a field added to the model: the general path
        return cls.model_construct(**values)
    model = cls.__new__(cls)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", set(values))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


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
    """Decide the visits that waited for this assignment, in date order (found by the index)."""
    index = held_index(deps.fees)
    if assignment_id not in index:
        return []
    assignment = assignment_of(assignment_id, deps.fees)
    deps.fees[HELD] = {a: at for a, at in index.items() if a != assignment_id}
    out: list[Emit] = []
    for key, entry in _held_entries(assignment_id, deps.fees):
        del deps.fees[key]
        visit = VisitReported.model_validate(entry["visit"])
        if f"v|{visit.visit_id}" not in deps.fees:
            out += decide(visit, entry["digest"], assignment, deps)
    return out


# -- held visits: an index kept in the store, written in the same unit of work as the entries ---
HELD = "held"
"""{assignment_id: earliest held_at (ISO)} of the assignments with held visits. Its presence also
says the index is complete: a store written before the index existed has none, and the first use
builds it from one scan of the held entries (held_index), in that message's unit of work."""


def hold(visit: VisitReported, content: str, deps: Deps) -> None:
    """Keep a visit until its assignment arrives (or the hold expires): the entry plus its index."""
    held_at = deps.clock.now().isoformat()
    index = held_index(deps.fees)
    aid, vid = visit.assignment_id, visit.visit_id
    deps.fees[f"h|{aid}|{vid}"] = {"visit": visit.model_dump(mode="json"), "digest": content, "held_at": held_at}
    ids = deps.fees.get(f"H|{aid}") or []
    if vid not in ids:
        deps.fees[f"H|{aid}"] = sorted([*ids, vid])
    if aid not in index or _at(held_at) < _at(index[aid]):
        deps.fees[HELD] = {**index, aid: held_at}


def held_index(fees: Store) -> dict[str, str]:
    """The `held` index; built once per store from a scan of `h|` entries if it is absent (state
    written before the index existed). Never a scan once it exists."""
    index = fees.get(HELD)
    if index is not None:
        return index
    by_assignment: dict[str, list[str]] = {}
    earliest: dict[str, str] = {}
    for _, entry in fees.items_with_prefix("h|"):
        aid, vid = entry["visit"]["assignment_id"], entry["visit"]["visit_id"]
        by_assignment.setdefault(aid, []).append(vid)
        if aid not in earliest or _at(entry["held_at"]) < _at(earliest[aid]):
            earliest[aid] = entry["held_at"]
    for aid, ids in by_assignment.items():
        fees[f"H|{aid}"] = sorted(ids)
    fees[HELD] = earliest
    return earliest


def _held_entries(assignment_id: str, fees: Store) -> list[tuple[str, dict[str, Any]]]:
    """The held entries of an assignment in date order (then key), and its index key removed.
    An id whose entry is gone (an index restored ahead of its entries) is skipped."""
    ids = fees.get(f"H|{assignment_id}") or []
    if ids:
        del fees[f"H|{assignment_id}"]
    entries = [(key, entry) for key in (f"h|{assignment_id}|{vid}" for vid in ids)
               if (entry := fees.get(key)) is not None]
    return sorted(entries, key=lambda kv: (kv[1]["visit"]["date"], kv[0]))


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


# -- time -------------------------------------------------------------------------------------
def on_tick(event: Envelope, *, deps: Deps) -> list[Emit]:
    """Reject visits held longer than fees_hold_s without an assignment (never dropped silently).
    Only assignments whose earliest held visit has expired are looked at (the `held` index)."""
    tick: Tick = event.data
    if tick.service != "fees":
        return []
    limit = timedelta(seconds=deps.settings.fees_hold_s)
    index = held_index(deps.fees)
    due = sorted(aid for aid, at in index.items() if _at(at) + limit <= tick.at)
    if not due:
        return []
    remaining = dict(index)
    out: list[Emit] = []
    for aid in due:
        kept: list[str] = []
        earliest: str | None = None
        for key, entry in _held_entries(aid, deps.fees):
            visit_id = entry["visit"]["visit_id"]
            if _at(entry["held_at"]) + limit > tick.at:
                kept.append(visit_id)
                if earliest is None or _at(entry["held_at"]) < _at(earliest):
                    earliest = entry["held_at"]
                continue
            del deps.fees[key]
            visit = VisitReported.model_validate(entry["visit"])
            if f"v|{visit.visit_id}" in deps.fees:
                continue
            deps.fees[f"v|{visit.visit_id}"] = entry["digest"]
            out.append(reject(visit, "no_assignment", f"inget uppdrag {visit.assignment_id} inom väntetiden", deps))
        if kept:
            deps.fees[f"H|{aid}"] = sorted(kept)
            remaining[aid] = earliest  # type: ignore[assignment]
        else:
            del remaining[aid]
    deps.fees[HELD] = remaining
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
BOOK_HANDLERS = {PeriodCloseRequested.event_type: on_close_requested, FeePayout.event_type: on_payout_drafted}
