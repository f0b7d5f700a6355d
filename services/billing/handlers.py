"""Billing handlers: read facts from the stores → call domain.py → write facts → emit. The shared
Processor does the rest (decode, dedup, publish, commit). Every decision is in domain.py; every
store key in keys.py.

Three processors, because faust ties a store's changelog to the partitions of the topic that
writes it, and every read a handler makes must be local to its worker whatever the number of
workers (docs/billing.md, "Several workers"):
- FORWARD_HANDLERS (`pn.care.days`, 4 partitions, keyed by stay): move each care day and cancel,
  unchanged (same event id, same bytes), into the one-partition internal `pn.billing.days`. No
  state: a day's duplicate (same patient and date on another stay), its cancel (by care_day_id,
  no stay) and the close (every day of a period) all read across stays, so they are decided where
  every day is, in one partition.
- DAY_HANDLERS (`pn.billing.days`, 1 partition) decide each vårddygn once and keep it in `days`:
  the day record under its patient and date (so the same patient and date under a second
  care_day_id is a duplicate), the (first) cancelling event id per care day, and the kept day a
  duplicate was alerted against. Idempotent by these facts (a second delivery of any event
  changes and emits nothing), so no seen-id write per event (agents.py).
- BOOK_HANDLERS (`pn.commands` and `pn.billing.drafts`, one partition each) close periods and
  issue invoices, in the `invoices` store: the closed periods, and per period and home region the
  invoices issued for it, in order (JSON InvoiceIssued). A close reads `days` and publishes
  drafts; a draft becomes an invoice in the drafts topic's order, in one write of one key, so a
  replay after kill -9 reaches the same number and content.
`days` and `invoices` both live on partition 0 of one-partition topics, which faust's assignor
gives to one worker together (topics of equal partition count that the same workers subscribe to
are assigned as one co-partitioned group), so the close's read of `days` and a day's read of the
closed periods are local, and a surviving worker takes both over together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.contract.events import (
    CareDayCancelled,
    CareDayRecorded,
    Envelope,
    InvoiceDrafted,
    PeriodCloseRequested,
)
from shared.contract.topics import (
    ALERTS_OPS,
    BILLING_DAYS,
    BILLING_DRAFTS,
    BILLING_INVOICES,
    FINANCE_POSTINGS,
)
from shared.service.ports import Clock, Emit
from shared.service.processor import Emitter
from shared.service.state import Store

from . import keys
from .domain import (
    AGAIN,
    DUPLICATE,
    DUPLICATE_RULE,
    REPLACES,
    arrival,
    billed_index,
    closed_periods,
    day_record,
    decide_day,
    draft_invoices,
    duplicate_alert,
    income_posting_id,
    issue_invoice,
    replaced_alert,
    revenue_postings,
)
from .rules import BillingRules
from .settings import Settings


@dataclass
class Deps:
    days: Store
    invoices: Store
    rules: BillingRules
    settings: Settings
    clock: Clock
    log: Any
    emit: Emitter | None = None
    issued: Store | None = None
    """The issued invoices again (keys.issued → the same list as `invoices`), in a global store
    (every worker holds all of it): what the summary view serves on any worker (web.py). Written
    beside `invoices`, by the same processor; never read by a handler."""


def day_key(day: CareDayRecorded) -> str:
    """The `days` key of a day's record (keys.day); bench/ and tests/reliability/ use it."""
    return keys.day(day.care_date, day.patient_ref)


def forward(event: Envelope, *, deps: Deps) -> list[Emit]:
    """A care day or cancel of `pn.care.days`, unchanged, into billing's one partition."""
    return [Emit(BILLING_DAYS, None, event)]


def on_day_recorded(event: Envelope, *, deps: Deps) -> list[Emit]:
    day: CareDayRecorded = event.data
    key = day_key(day)
    kept = deps.days.get(key)
    kept_id = kept["id"] if kept is not None else None
    other = kept_id is not None and kept_id != day.care_day_id
    kind = arrival(day.care_day_id, kept_id, kept_cancelled=other and keys.cancel(kept_id) in deps.days,
                   kept_closed=other and day.care_date.isoformat()[:7] in deps.invoices.get(keys.CLOSED, []))
    if kind == AGAIN:
        return []
    if kind == DUPLICATE:
        if keys.alerted(day.care_day_id) in deps.days:
            return []  # alerted already: this is a second delivery of the same event
        deps.days[keys.alerted(day.care_day_id)] = kept_id
        alert = duplicate_alert(day, kept_id, deps.clock.now())
        return [deps.emit(ALERTS_OPS, alert, key=alert.alert_id, cause=[day.care_day_id, DUPLICATE_RULE])]
    decision = decide_day(day, deps.rules.care_region, deps.rules.agreements, deps.rules.matching)
    deps.days[key] = day_record(day, decision)
    if kind != REPLACES or keys.alerted(kept_id) in deps.days:
        return []
    # the lower id is kept (domain.arrival): the day kept so far is the duplicate, alerted as if it came second
    deps.days[keys.alerted(kept_id)] = day.care_day_id
    alert = replaced_alert(kept, day, deps.clock.now())
    return [deps.emit(ALERTS_OPS, alert, key=alert.alert_id, cause=[kept_id, DUPLICATE_RULE])]


def on_day_cancelled(event: Envelope, *, deps: Deps) -> list[Emit]:
    cancel: CareDayCancelled = event.data
    key = keys.cancel(cancel.care_day_id)
    if key not in deps.days:  # the first cancel counts; a second is a no-op
        deps.days[key] = event.id
    return []


def on_close_requested(event: Envelope, *, deps: Deps) -> list[Emit]:
    command: PeriodCloseRequested = event.data
    periods = closed_periods(deps.invoices.get(keys.CLOSED, []), command)
    if periods is None:
        return []
    deps.invoices[keys.CLOSED] = periods
    closed = set(periods)
    issued = [inv for key, invs in deps.invoices.items_with_prefix(keys.ISSUED)
              if keys.issued_period(key) in closed for inv in invs]
    days, cancelled = [], set()
    for key in deps.days.keys():
        if key.startswith(keys.CANCELS):
            cancelled.add(keys.cancelled_day_id(key))
        elif key.startswith(keys.DAYS) and keys.day_period(key) in closed:
            days.append((keys.day_date(key), deps.days.get(key)))
    drafts = draft_invoices(days, closed=closed, cancelled=cancelled, billed=billed_index(issued),
                            describe=deps.rules.names())
    deps.log.info("period_closed", period=command.period, drafts=len(drafts), event_id=event.id)
    return [deps.emit(BILLING_DRAFTS, d, key=None, cause=[event.id, d.period, d.home_region]) for d in drafts]


def on_invoice_drafted(event: Envelope, *, deps: Deps) -> list[Emit]:
    draft: InvoiceDrafted = event.data
    key = keys.issued(draft.period, draft.home_region)
    issued: list[dict[str, Any]] = deps.invoices.get(key, [])
    invoice = issue_invoice(draft, issued)
    if invoice is None:
        return []
    deps.invoices[key] = [*issued, invoice.model_dump(mode="json")]  # one write: all or nothing
    if deps.issued is not None:
        deps.issued[key] = deps.invoices[key]
    deps.log.info("invoice_issued", invoice_number=invoice.invoice_number, total=str(invoice.total),
                  days=invoice.statistics["days_on_invoice"], credits=len(invoice.credits))
    outputs = [deps.emit(BILLING_INVOICES, invoice, key=invoice.home_region, cause=[invoice.invoice_number])]
    if deps.settings.billing_post_revenue:
        for posting in revenue_postings(invoice, deps.rules.revenue, deps.settings.billing_cost_centre):
            # the income posting keeps the cause it always had (same event id); transfers their own
            cause = [invoice.invoice_number, "revenue" if posting.posting_id == income_posting_id(invoice.invoice_number)
                     else posting.posting_id]
            outputs.append(deps.emit(FINANCE_POSTINGS, posting, key=posting.cost_centre, cause=cause))
    return outputs


FORWARD_HANDLERS = {
    CareDayRecorded.event_type: forward,
    CareDayCancelled.event_type: forward,
}
DAY_HANDLERS = {
    CareDayRecorded.event_type: on_day_recorded,
    CareDayCancelled.event_type: on_day_cancelled,
}
BOOK_HANDLERS = {
    PeriodCloseRequested.event_type: on_close_requested,
    InvoiceDrafted.event_type: on_invoice_drafted,
}
