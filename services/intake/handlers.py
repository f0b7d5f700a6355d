"""Intake handlers: event in → domain decision → events out. The shared Processor does the rest.

Two processors, two handler maps, because the same event type flows through two stages:
- INTAKE_HANDLERS (4-partition inputs): stage 1 checks and de-duplicates submitted complaints and
  forwards accepted ones to the one-partition `pn.intake.accepted`; it forwards the HSA
  directory's units, registered letters and intake's ticks there too, unchanged.
- CASE_HANDLERS (`pn.intake.accepted`, one partition): stage 2 numbers the case, resolves the care
  unit, categorises, acknowledges, and counts for the spike signal; keeps the directory, notifies
  the submitter of registered letters and resolves spike alerts on ticks. One partition means a
  replay after a crash (or a takeover by another worker) meets them in the same order and reaches
  the same numbers, and every store read of stage 2 is local to it with several workers (issue 27).

Each handler reads facts from the stores, asks domain.py for the decisions, writes the facts and
returns what to emit. State in the `cases` store (keys by cause, named in keys.py):
`case|<case_id>` the case without free text, with `contact` (where notifications go; earlier
versions kept it apart as `contact|<case_id>`, still read), `complaint|<event id>` → case id,
`seq|<year>` the last number, `spike|<unit>|<code>` counts per day with the last case counted,
`spike-open` the open spike alerts, `unit|<hsa_id>` the directory. Within one complaint they are written in that order (counts,
case, mapping, counter last); a kill -9 during the commit keeps a prefix of the writes, and
`domain.next_case_id` reads any such prefix back to the number the complaint's outputs carried.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.contract.events import (
    CaseOpened,
    ComplaintRejected,
    NotificationRequested,
    trusted,
)
from shared.contract.topics import (
    ALERTS_OPS,
    CASES_OPENED,
    COMPLAINTS_REJECTED,
    INTAKE_ACCEPTED,
    NOTIFICATIONS,
)
from shared.service.ports import Clock, Emit
from shared.service.processor import content_digest
from shared.service.state import Store

from . import keys
from .domain import (
    SPIKE_RULE,
    UNKNOWN_UNIT_RULE,
    AttachmentPolicy,
    care_unit_status,
    case_year,
    categorise,
    contact_of,
    count_case,
    is_duplicate_reference,
    letter_template,
    next_case_id,
    opened_at,
    reference_key,
    rejection_of,
    reused_id_rejection,
    spike_alert,
    spike_day,
    spike_resolution,
    unit_record,
    unknown_unit_alert,
)
from .rules import CategoryRules


@dataclass
class Deps:
    refs: Store  # channel|external_ref -> first event id (4 partitions, like the submitted topic)
    directory: Store  # hsa_id -> care unit, as earlier versions kept it: read only (docs/intake.md "Scale out")
    cases: Store  # see module docstring (1 partition, like pn.intake.accepted and its case updates)
    rules: CategoryRules
    attachments: AttachmentPolicy
    clock: Clock
    log: Any
    emit: Any = None  # the Processor's Emitter, set by create_app


def on_reused_complaint(event: Any, deps: Deps) -> list[Emit]:
    """A complaint under an event id used before with other content (the Processor's id guard):
    refused with a reason code, no second case; the first complaint with that id stands (issue 22)."""
    rejection = reused_id_rejection(event.id)
    data = ComplaintRejected(reason=rejection.reason, detail=rejection.detail, complaint_event_id=event.id)
    return [deps.emit(COMPLAINTS_REJECTED, data, key=event.id,
                      cause=[event.id, rejection.reason, content_digest(event)])]


# -- stage 1: is it a complaint, and is it new? -------------------------------------------------------
def on_submitted(event: Any, *, deps: Deps) -> list[Emit]:
    complaint = event.data
    rejection = rejection_of(complaint, deps.attachments)
    if rejection is not None:
        data = ComplaintRejected(reason=rejection.reason, detail=rejection.detail, complaint_event_id=event.id)
        return [deps.emit(COMPLAINTS_REJECTED, data, key=event.id, cause=[event.id])]
    ref = reference_key(complaint)
    if ref is not None:
        first = deps.refs.get(ref)
        if is_duplicate_reference(first, event.id):
            deps.log.info("duplicate_external_ref", event_id=event.id, first_event_id=first)
            return []
        deps.refs[ref] = event.id
    # Forwarded unchanged: the complaint's own id and time travel on (ids are the idempotency key).
    return [Emit(INTAKE_ACCEPTED, None, event)]


def forward_unit(event: Any, *, deps: Deps) -> list[Emit]:
    """A directory unit goes on, unchanged, to stage 2's one partition (`pn.intake.accepted`):
    stage 2 is its only reader, so the directory lives beside the cases, ordered with the complaints."""
    return [Emit(INTAKE_ACCEPTED, None, event)]


def forward_letter(event: Any, *, deps: Deps) -> list[Emit]:
    """A registered letter goes on to stage 2, which holds the case's contact; other entries stop here."""
    entry = event.data
    if letter_template(entry.direction, entry.document_kind) is None:
        return []
    return [Emit(INTAKE_ACCEPTED, None, event)]


def forward_tick(event: Any, *, deps: Deps) -> list[Emit]:
    """Intake's own ticks go on to stage 2, which holds the open spike alerts and their tallies."""
    if event.data.service != "intake":
        return []
    return [Emit(INTAKE_ACCEPTED, None, event)]


# -- stage 2: open the case -------------------------------------------------------------------------------
def on_accepted(event: Any, *, deps: Deps) -> list[Emit]:
    cases = deps.cases
    if keys.complaint(event.id) in cases:  # its outputs were acknowledged before this was written
        return []
    complaint = event.data
    # opened when the complaint was received (its own time, kept by stage 1), in its Swedish year
    now = opened_at(event.time, deps.clock.now())
    year = case_year(now)
    sequence, case_id = next_case_id(year, cases.get(keys.sequence(year), 0),
                                     lambda c: (cases.get(keys.case(c)) or {}).get("complaint_event_id"), event.id)
    unit = care_unit_of(complaint.care_unit_hsa_id, deps) if complaint.care_unit_hsa_id else None
    status = care_unit_status(complaint.care_unit_hsa_id, unit)
    # built without re-validation (hot path): every value comes from the validated complaint, the
    # directory's validated unit, the loaded rules or the number; consumers validate it on read
    case = trusted(CaseOpened, {
        "case_id": case_id, "complaint_event_id": event.id, "channel": complaint.channel,
        "region": complaint.region, "care_unit_hsa_id": complaint.care_unit_hsa_id, "care_unit_status": status,
        "care_provider": unit["care_provider"] if unit else None,
        "categories": categorise(complaint, deps.rules), "opened_at": now})
    contact = contact_of(complaint, case_id, event.id)
    outputs = [
        deps.emit(CASES_OPENED, case, key=case_id, cause=[event.id], subject=case_id),
        deps.emit(NOTIFICATIONS, NotificationRequested(case_id=case_id, template="receipt", channel=contact.channel,
                                                       recipient=contact.recipient),
                  key=case_id, cause=[event.id, "receipt"]),
    ]
    if status == "unresolved":
        alert = unknown_unit_alert(case_id, complaint.care_unit_hsa_id, now)
        outputs.append(deps.emit(ALERTS_OPS, alert, key=alert.alert_id, cause=[event.id, UNKNOWN_UNIT_RULE]))
    if status == "resolved":
        outputs += _count_for_spikes(case, event, deps)
    cases[keys.case(case_id)] = {**case.model_dump(mode="json", exclude_none=True),
                                 "contact": {"channel": contact.channel, "recipient": contact.recipient}}
    cases[keys.complaint(event.id)] = case_id
    cases[keys.sequence(year)] = sequence
    deps.log.debug("case_opened", case_id=case_id, event_id=event.id, care_unit_status=status)
    return outputs


def _count_for_spikes(case: CaseOpened, event: Any, deps: Deps) -> list[Emit]:
    """Count the case per unit and category on the complaint's own Swedish date (replays decide the same)."""
    cases, policy, day = deps.cases, deps.rules.spike, spike_day(event.time)
    unit = case.care_unit_hsa_id or ""  # resolved, so given
    stored = cases.get(keys.OPEN_SPIKES, {})
    open_alerts = stored  # copied before the first change
    outputs = []
    for category in case.categories:
        key, tally_key = keys.open_spike(unit, category.code), keys.spike_tally(unit, category.code)
        tally, current, baseline = count_case(cases.get(tally_key, {}), day, case.case_id, policy)
        if tally is not None:  # None: a replay, counted already
            cases[tally_key] = tally
        # only this case's own unit/category key is checked: a scan of every open alert per case
        # cost ~4 ms on RocksDB (bench/RESULTS.md); a tick removes the alerts it resolves
        known = open_alerts.get(key)
        data = spike_alert(unit, category.code, day, current, baseline, policy, event.time,
                           already_open=known is not None)
        if data is None:
            continue
        if open_alerts is stored:
            open_alerts = dict(stored)
        open_alerts[key] = {"alert_id": data.alert_id, "raised_at": event.time.isoformat()}
        # the event id from the alert alone (not the complaint that tipped it): order-independent too
        outputs.append(deps.emit(ALERTS_OPS, data, key=data.alert_id, cause=[data.alert_id, SPIKE_RULE]))
    if open_alerts is not stored and open_alerts != stored:
        cases[keys.OPEN_SPIKES] = open_alerts
    return outputs


# -- stage 2: what concerns the cases ----------------------------------------------------------------------
def on_care_unit(event: Any, *, deps: Deps) -> list[Emit]:
    unit = event.data
    deps.cases[keys.unit(unit.hsa_id)] = unit_record(unit)
    return []


def care_unit_of(hsa_id: str, deps: Deps) -> dict[str, Any] | None:
    """The unit as stage 2 last saw it on its own partition; else as earlier versions kept it in the
    4-partition `care-units` store (complete only while one worker held all of them: the state an
    upgrade starts from)."""
    return deps.cases.get(keys.unit(hsa_id)) or deps.directory.get(keys.care_unit(hsa_id))


def on_diary_registered(event: Any, *, deps: Deps) -> list[Emit]:
    entry = event.data
    template = letter_template(entry.direction, entry.document_kind)
    if template is None:
        return []
    contact = contact_for(entry.case_id, deps.cases)
    if contact is None:
        deps.log.info("diary_entry_for_unknown_case", case_id=entry.case_id, event_id=event.id)
        return []
    data = NotificationRequested(case_id=entry.case_id, template=template, **contact)
    return [deps.emit(NOTIFICATIONS, data, key=entry.case_id, cause=[event.id])]


def contact_for(case_id: str, cases: Store) -> dict[str, str] | None:
    """Where a case's notifications go: in its case record (one changelog record per case less
    than a key of its own, bench/RESULTS.md eighth round), or `contact|` for cases opened before."""
    case = cases.get(keys.case(case_id))
    if case is None:
        return None
    return case.get("contact") or cases.get(keys.legacy_contact(case_id))


def on_tick(event: Any, *, deps: Deps) -> list[Emit]:
    """Resolve open spike alerts whose window has fallen back, as of the tick's own Swedish date; a
    resolved alert leaves `spike-open` (every worker's timer ticks every partition, so the same
    resolution is met again by the next tick: it finds the alert gone)."""
    if event.data.service != "intake":
        return []
    at: datetime = event.data.at
    stored = deps.cases.get(keys.OPEN_SPIKES, {})
    still_open = dict(stored)
    outputs = []
    for key, alert in stored.items():
        unit, code = keys.unit_and_category(key)
        days = deps.cases.get(keys.spike_tally(unit, code), {}).get("days", {})
        data = spike_resolution(alert["alert_id"], unit, code, days, datetime.fromisoformat(alert["raised_at"]),
                                at, deps.rules.spike)
        if data is None:  # still spiking
            continue
        del still_open[key]
        outputs.append(deps.emit(ALERTS_OPS, data, key=data.alert_id, cause=[data.alert_id, "resolved"]))
    if outputs:
        deps.cases[keys.OPEN_SPIKES] = still_open
    return outputs


INTAKE_HANDLERS = {
    "pn.complaint.submitted": on_submitted,
    "pn.care_unit.upserted": forward_unit,
    "pn.diary.registered": forward_letter,
    "pn.tick": forward_tick,
}
REUSED_HANDLERS = {"pn.complaint.submitted": on_reused_complaint}
"""Business rejections of an event id reused with other content (Processor.on_reused)."""
CASE_HANDLERS = {
    "pn.complaint.submitted": on_accepted,
    "pn.care_unit.upserted": on_care_unit,
    "pn.diary.registered": on_diary_registered,
    "pn.tick": on_tick,
}
