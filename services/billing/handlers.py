"""Billing handlers: event in → domain decision → events out. The shared Processor does the rest.

Two processors, because faust ties a store's changelog to the partitions of the topic that writes it:
- DAY_HANDLERS (`pn.care.days`, 4 partitions) decide each vårddygn once and keep it in `days`:
  `d|<care date>|<patient_ref>` → the day record (so the same patient and date under a second
  care_day_id is a duplicate), `x|<care_day_id>` → the (first) cancelling event id,
  `a|<care_day_id>` → the kept day a duplicate was alerted against. A cancel may come on another
  partition than its day; with one worker every partition is local (docs/billing.md). These
  handlers are idempotent by these facts (a second delivery of any event changes and emits
  nothing), so `pn.care.days` is consumed without a seen-id write per event (agents.py).
- BOOK_HANDLERS (`pn.commands` and `pn.billing.drafts`, one partition each) close periods and
  issue invoices, in the `invoices` store: `closed` → the closed periods,
  `issued|<period>|<home region>` → the invoices issued for it, in order (JSON InvoiceIssued).
  A close reads `days` and publishes drafts; a draft becomes an invoice in the drafts topic's
  order, in one write of one key, so a replay after kill -9 reaches the same number and content.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.contract.events import (
    AlertMessage,
    AlertRaised,
    CareDayCancelled,
    CareDayRecorded,
    Envelope,
    InvoiceDrafted,
    PeriodCloseRequested,
)
from shared.contract.topics import ALERTS_OPS, BILLING_DRAFTS, BILLING_INVOICES, FINANCE_POSTINGS
from shared.service.ports import Clock, Emit
from shared.service.processor import Emitter
from shared.service.state import Store

from .domain import (
    Decision,
    billed_index,
    choose,
    day_record,
    draft_invoices,
    issue_invoice,
    revenue_postings,
    screen,
)
from .rules import BillingRules
from .settings import Settings

DUPLICATE_RULE = "billing.duplicate_care_day"


@dataclass
class Deps:
    days: Store
    invoices: Store
    rules: BillingRules
    settings: Settings
    clock: Clock
    log: Any
    emit: Emitter | None = None


def day_key(day: CareDayRecorded) -> str:
    return f"d|{day.care_date.isoformat()}|{day.patient_ref}"


def on_day_recorded(event: Envelope, *, deps: Deps) -> list[Emit]:
    day: CareDayRecorded = event.data
    key = day_key(day)
    kept = deps.days.get(key)
    if kept is not None:
        if kept["id"] == day.care_day_id:
            return []  # the same day again: counted once
        if f"x|{kept['id']}" not in deps.days:
            if f"a|{day.care_day_id}" in deps.days:
                return []  # alerted already: this is a second delivery of the same event
            deps.days[f"a|{day.care_day_id}"] = kept["id"]
            return [duplicate_alert(day, kept["id"], deps)]
    reason = screen(day, deps.rules.care_region)
    decision = Decision(None, reason) if reason else choose(day, deps.rules.matching(day), deps.rules.agreements)
    deps.days[key] = day_record(day, decision)
    return []


def duplicate_alert(day: CareDayRecorded, kept_id: str, deps: Deps) -> Emit:
    alert = AlertRaised(
        alert_id=f"{DUPLICATE_RULE}:{day.care_day_id}", rule_id=DUPLICATE_RULE, severity="warning",
        subject=day.care_day_id,
        message=AlertMessage(
            sv=f"Vårddygn {day.care_day_id} har samma patient och datum som {kept_id}; det faktureras en gång.",
            en=f"Care day {day.care_day_id} has the same patient and date as {kept_id}; it is billed once."),
        facts={"care_day_id": day.care_day_id, "kept_care_day_id": kept_id,
               "care_date": day.care_date.isoformat(), "home_region": day.home_region},
        raised_at=deps.clock.now())
    return deps.emit(ALERTS_OPS, alert, key=alert.alert_id, cause=[day.care_day_id, DUPLICATE_RULE])


def on_day_cancelled(event: Envelope, *, deps: Deps) -> list[Emit]:
    cancel: CareDayCancelled = event.data
    if f"x|{cancel.care_day_id}" not in deps.days:  # the first cancel counts; a second is a no-op
        deps.days[f"x|{cancel.care_day_id}"] = event.id
    return []


def on_close_requested(event: Envelope, *, deps: Deps) -> list[Emit]:
    command: PeriodCloseRequested = event.data
    if command.service != "billing":
        return []
    closed = set(deps.invoices.get("closed", [])) | {command.period}
    deps.invoices["closed"] = sorted(closed)
    issued = [inv for key, invs in deps.invoices.items_with_prefix("issued|") if key[7:14] in closed for inv in invs]
    days, cancelled = [], set()
    for key in deps.days.keys():
        if key.startswith("x|"):
            cancelled.add(key[2:])
        elif key.startswith("d|") and key[2:9] in closed:  # d|YYYY-MM-DD|...
            days.append((key[2:12], deps.days.get(key)))
    drafts = draft_invoices(days, closed=closed, cancelled=cancelled, billed=billed_index(issued),
                            describe=deps.rules.names())
    deps.log.info("period_closed", period=command.period, drafts=len(drafts), event_id=event.id)
    return [deps.emit(BILLING_DRAFTS, d, key=None, cause=[event.id, d.period, d.home_region]) for d in drafts]


def on_invoice_drafted(event: Envelope, *, deps: Deps) -> list[Emit]:
    draft: InvoiceDrafted = event.data
    key = f"issued|{draft.period}|{draft.home_region}"
    issued: list[dict[str, Any]] = deps.invoices.get(key, [])
    invoice = issue_invoice(draft, issued)
    if invoice is None:
        return []
    deps.invoices[key] = [*issued, invoice.model_dump(mode="json")]  # one write: all or nothing
    deps.log.info("invoice_issued", invoice_number=invoice.invoice_number, total=str(invoice.total),
                  days=invoice.statistics["days_on_invoice"], credits=len(invoice.credits))
    outputs = [deps.emit(BILLING_INVOICES, invoice, key=invoice.home_region, cause=[invoice.invoice_number])]
    if deps.settings.billing_post_revenue:
        for posting in revenue_postings(invoice, deps.rules.revenue, deps.settings.billing_cost_centre):
            # the income posting keeps the cause it always had (same event id); transfers their own
            cause = [invoice.invoice_number, "revenue" if posting.posting_id == f"billing:{invoice.invoice_number}"
                     else posting.posting_id]
            outputs.append(deps.emit(FINANCE_POSTINGS, posting, key=posting.cost_centre, cause=cause))
    return outputs


DAY_HANDLERS = {
    CareDayRecorded.event_type: on_day_recorded,
    CareDayCancelled.event_type: on_day_cancelled,
}
BOOK_HANDLERS = {
    PeriodCloseRequested.event_type: on_close_requested,
    InvoiceDrafted.event_type: on_invoice_drafted,
}
