"""Intake decisions, pure: is it a complaint, is it a duplicate, which case number and year, is the
care unit known, which categories, who gets the receipt, what an officer sees, is a care unit's
category spiking and what its alerts say. No I/O, clock, logging or faust here: the handlers read
the facts from the stores, call these and write what they return (store keys: keys.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from itertools import takewhile
from typing import Any

from shared.contract.events import (
    AlertMessage,
    AlertRaised,
    AlertResolved,
    CareUnitUpserted,
    CategoryRef,
    ComplaintSubmitted,
)
from shared.kernel.personnummer import normalise
from shared.kernel.swedish_time import swedish_date, swedish_year
from shared.service.processor import REUSED_ID

from . import keys
from .rules import CategoryRules, SpikePolicy

UNKNOWN_UNIT_RULE = "intake.unknown_care_unit"
SPIKE_RULE = "intake.complaint_spike"


@dataclass(frozen=True)
class AttachmentPolicy:
    max_bytes: int
    media_types: frozenset[str]


@dataclass(frozen=True)
class Rejection:
    reason: str
    detail: str  # never echoes personal data or free text


# -- is it a complaint? ----------------------------------------------------------------------------
def rejection_of(complaint: ComplaintSubmitted, attachments: AttachmentPolicy) -> Rejection | None:
    """The business reason this cannot be a complaint, or None. Malformed events never get here."""
    if not complaint.description.strip():
        return Rejection("empty_description", "the description is empty")
    if complaint.patient.personnummer is not None:
        try:
            normalise(complaint.patient.personnummer)
        except ValueError as exc:  # its message never echoes the number
            return Rejection("invalid_personnummer", str(exc))
    for number, attachment in enumerate(complaint.attachments or (), start=1):
        if attachment.size_bytes > attachments.max_bytes:
            return Rejection("attachment_too_large",
                             f"attachment {number} has {attachment.size_bytes} bytes; the limit is {attachments.max_bytes}")
        if attachment.media_type.split(";")[0].strip().lower() not in attachments.media_types:
            return Rejection("attachment_type_not_allowed",
                             f"attachment {number} has a media type that is not on the allow-list")
    return None


def reused_id_rejection(event_id: str) -> Rejection:
    """A complaint under an event id used before with other content (the Processor's id guard) is
    refused with reason `event_id_reused`; the first complaint with that id stands (issue 22). The
    detail names the id (cut to 100 characters), never the content."""
    return Rejection(REUSED_ID, f"Händelse-id {event_id[:100]} har redan använts för ett annat klagomål; "
                                "skicka det med ett nytt id.")


# -- is it new? ------------------------------------------------------------------------------------
def reference_key(complaint: ComplaintSubmitted) -> str | None:
    """The upstream's own idempotency key: the same external_ref from one channel is one complaint;
    without an external_ref there is none (only the event id de-duplicates)."""
    return keys.reference(complaint.channel, complaint.external_ref) if complaint.external_ref else None


def is_duplicate_reference(first_event_id: str | None, event_id: str) -> bool:
    """A complaint whose reference was first seen under another event id is a duplicate (no effect,
    docs/intake.md Flow 1); unseen, or seen under this very id (a redelivery), it goes on."""
    return first_event_id is not None and first_event_id != event_id


# -- case numbers: PN-<year>-<5-digit sequence>, per year ------------------------------------------
def opened_at(received: datetime, now: datetime) -> datetime:
    """A case is opened at the complaint's own time of receipt, never in the future: a replay or a
    backlog decides the same time, year and number as the first run (docs/domain.md A17)."""
    return min(received, now)


def case_year(opened: datetime) -> int:
    """The year of a case number: the Swedish year of `opened` (00:30 on 1 January in Sweden, sent
    as 23:30 UTC on 31 December, is the new year's case; docs/domain.md A17, Europe/Stockholm)."""
    return swedish_year(opened)


def case_id_of(year: int, sequence: int) -> str:
    return f"PN-{year}-{sequence:05d}"


def next_case_id(year: int, last_sequence: int, holder_of: Callable[[str], str | None],
                 complaint_event_id: str) -> tuple[int, str]:
    """The number after `last_sequence`. A crash can keep a prefix of one complaint's writes
    (case record, mapping, counter, in that order): a number whose case record survived goes back
    to the complaint holding it, a number held by another complaint is skipped, so no number is
    ever issued twice and a replayed complaint gets the number its earlier outputs carried."""
    sequence = last_sequence + 1
    while (holder := holder_of(case_id_of(year, sequence))) is not None and holder != complaint_event_id:
        sequence += 1
    return sequence, case_id_of(year, sequence)


# -- care unit -------------------------------------------------------------------------------------
def care_unit_status(hsa_id: str | None, unit: Mapping[str, Any] | None) -> str:
    """`none` when the complaint names no care unit, `resolved` when the HSA directory knows it,
    else `unresolved` (routed by hand, with an `intake.unknown_care_unit` alert)."""
    if not hsa_id:
        return "none"
    return "resolved" if unit else "unresolved"


def unit_record(unit: CareUnitUpserted) -> dict[str, str]:
    """What intake keeps of a care unit: what a case names of it (care provider) and its name and region."""
    return {"name": unit.name, "care_provider": unit.care_provider, "region": unit.region}


def unknown_unit_alert(case_id: str, hsa_id: str | None, raised_at: datetime) -> AlertRaised:
    """The ops alert for a case naming a care unit the HSA directory does not know: route it by hand.
    One per case (its id names the case)."""
    return AlertRaised(
        alert_id=f"{UNKNOWN_UNIT_RULE}:{case_id}", rule_id=UNKNOWN_UNIT_RULE, severity="warning", subject=case_id,
        message=AlertMessage(
            sv=f"Ärende {case_id} anger en vårdenhet som inte finns i HSA-katalogen; fördela ärendet manuellt.",
            en=f"Case {case_id} names a care unit unknown to the HSA directory; route it by hand."),
        facts={"case_id": case_id, "care_unit_hsa_id": hsa_id}, raised_at=raised_at)


# -- categories ------------------------------------------------------------------------------------
def categorise(complaint: ComplaintSubmitted, rules: CategoryRules) -> list[CategoryRef]:
    """The submitter's known codes; else the keyword rules' matches; else the fallback."""
    given = tuple(dict.fromkeys(c for c in complaint.categories or () if c in rules.codes))
    if given:
        return list(_refs(given, "submitter"))
    return list(_refs(tuple(rules.matching(complaint.description) or [rules.fallback]), "rules"))


@lru_cache(maxsize=1024)
def _refs(codes: tuple[str, ...], source: str) -> tuple[CategoryRef, ...]:
    """Frozen values, so one instance per (codes, source) serves every case that has them."""
    return tuple(CategoryRef(code=c, source=source) for c in codes)


# -- notifications ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Contact:
    """Where status notifications for a case go: a channel and a contact reference."""

    channel: str
    recipient: str


def contact_of(complaint: ComplaintSubmitted, case_id: str, complaint_event_id: str) -> Contact:
    """1177 answers in the citizen's 1177 inbox thread; else e-mail if given; else a letter to the
    submitter, whose address the case system holds under the case id."""
    if complaint.channel == "1177":
        return Contact("1177_inbox", f"1177:{complaint.external_ref or complaint_event_id}")
    if complaint.submitter.email:
        return Contact("email", f"mailto:{complaint.submitter.email}")
    return Contact("letter", f"case:{case_id}/submitter")


def for_officer(case_record: Mapping[str, Any]) -> dict[str, Any]:
    """What an officer's view of a case shows (`GET /cases/{case_id}`): the case's data, never the
    submitter's contact details, which the record keeps only for the notifications."""
    return {k: v for k, v in case_record.items() if k != "contact"}


def letter_template(direction: str, document_kind: str) -> str | None:
    """Registered letters out mean the complaint went to the provider; letters in, that it replied."""
    if document_kind != "letter":
        return None
    return "sent_to_provider" if direction == "out" else "provider_replied"


# -- patient-safety signal -------------------------------------------------------------------------
def spike_day(at: datetime) -> date:
    """The day a complaint counts on, and a tick judges as of: the Swedish date of its own time
    (also across daylight saving), so a replay decides the same."""
    return swedish_date(at)


def case_order(case_id: str) -> tuple[int, int]:
    """(year, sequence): the order in which stage 2 issued case ids."""
    _, year, sequence = case_id.split("-")
    return int(year), int(sequence)


def record_case(tally: Mapping[str, Any], day: date, case_id: str, policy: SpikePolicy) -> dict[str, Any]:
    """A (unit, category) tally `{"days": {date: count}, "last": case id}` with this case counted
    on `day`. Cases are numbered in the order they are counted, so a case not after `last` was
    counted already (a replay): nothing changes. Days no window needs are dropped.

    The reference definition, O(days kept): the handler uses `count_case`, which decides the same
    (tests/unit/intake/test_domain.py compares them over random histories)."""
    last = tally.get("last")
    if last is not None and case_order(case_id) <= case_order(last):
        return dict(tally)
    oldest = day - timedelta(days=policy.window_days + policy.baseline_days)
    days = {d: n for d, n in tally.get("days", {}).items() if date.fromisoformat(d) > oldest}
    days[day.isoformat()] = days.get(day.isoformat(), 0) + 1
    return {"days": days, "last": case_id}


def window_counts(days: Mapping[str, int], today: date, policy: SpikePolicy) -> tuple[int, int]:
    """(count in the window ending today, count in the baseline period before that window)."""
    window_start = _iso(today.toordinal() - policy.window_days)
    baseline_start = _iso(today.toordinal() - policy.window_days - policy.baseline_days)
    end = today.isoformat()
    current = baseline = 0
    for d, n in days.items():  # ISO dates (4-digit years) order as strings do
        if window_start < d <= end:
            current += n
        elif baseline_start < d <= window_start:
            baseline += n
    return current, baseline


@lru_cache(maxsize=8192)
def _iso(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


def _span(days: Mapping[str, int], start: int, end: int) -> int:
    """Count on the days (start, end] (ordinals), one lookup a day; negative when end < start."""
    if end < start:
        return -_span(days, end, start)
    get = days.get
    return sum(get(_iso(o), 0) for o in range(start + 1, end + 1))


def count_case(tally: Mapping[str, Any], day: date, case_id: str,
               policy: SpikePolicy) -> tuple[dict[str, Any] | None, int, int]:
    """`record_case` and then `window_counts` on `day`, at a cost that does not grow with the
    history: (the new tally, or None when it is unchanged (a replay), current, baseline).

    The tally also keeps `window`/`baseline` = `window_counts(days, at)` for the day `at` it was
    last counted on (and the policy's two periods they were counted with), and its days in date
    order; moving to another day then looks up only the days that enter or leave the two
    periods, and pruning drops days from the front. A tally without them (written before they
    existed, or under other periods) is counted in full once, then kept this way."""
    width, span = policy.window_days, policy.window_days + policy.baseline_days
    key = day.isoformat()
    days: Mapping[str, int] = tally.get("days", {})
    at = tally.get("at")
    if at is not None and (tally.get("window_days") != width or tally.get("baseline_days") != policy.baseline_days):
        at = None
    if at is None:
        current, baseline = window_counts(days, day, policy)
    else:
        current, baseline = tally["window"], tally["baseline"]
        if at != key:
            today, then = day.toordinal(), date.fromisoformat(at).toordinal()
            if 3 * abs(today - then) > len(days):
                current, baseline = window_counts(days, day, policy)
            elif today > then:  # day by day: one enters the window, one moves on to the baseline, one leaves
                get = days.get
                for o in range(then + 1, today + 1):
                    moved = get(_iso(o - width), 0)
                    current += get(_iso(o), 0) - moved
                    baseline += moved - get(_iso(o - span), 0)
            else:
                moved = _span(days, then - width, today - width)  # from the window into the baseline
                current += _span(days, then, today) - moved
                baseline += moved - _span(days, then - span, today - span)
    last = tally.get("last")
    if last is not None and _not_after(case_id, last):
        return None, current, baseline
    if at is None:  # the old layout: in date order once, what no window needs dropped
        horizon = _iso(day.toordinal() - span)
        kept = {d: n for d, n in sorted(days.items()) if d > horizon}
    else:
        kept = dict(days)
        if at != key and kept:  # counted on `at` before, so pruned as of `at` already
            horizon = _iso(day.toordinal() - span)
            if next(iter(kept)) <= horizon:
                for d in [d for d in takewhile(lambda d: d <= horizon, kept)]:
                    del kept[d]
    count = kept.get(key)
    if count is not None:
        kept[key] = count + 1
    elif not kept or next(reversed(kept)) < key:
        kept[key] = 1
    else:  # a day before the latest one counted: keep the date order
        kept[key] = 1
        kept = dict(sorted(kept.items()))
    current += 1
    return ({"days": kept, "last": case_id, "at": key, "window": current, "baseline": baseline,
             "window_days": width, "baseline_days": policy.baseline_days}, current, baseline)


def _not_after(case_id: str, last: str) -> bool:
    """`case_order(case_id) <= case_order(last)`; ids of one width compare as strings."""
    if len(case_id) == len(last):
        return case_id <= last
    return case_order(case_id) <= case_order(last)


def is_spike(current: int, baseline: int, policy: SpikePolicy) -> bool:
    """count ≥ min_count and count ≥ ratio × (baseline × window / baseline_days), in integers."""
    return (current >= policy.min_count
            and current * policy.baseline_days >= policy.ratio * policy.window_days * baseline)


def spike_alert(unit: str, code: str, day: date, current: int, baseline: int, policy: SpikePolicy,
                raised_at: datetime, *, already_open: bool) -> AlertRaised | None:
    """`intake.complaint_spike` (docs/domain.md A13, rules/complaint_categories.yaml `spike`): raised
    when the (unit, category) counts spike (`is_spike`) and no alert for the pair is open yet (one
    open alert per pair). Its id names the pair and the Swedish day whose window spikes, not the
    complaint that tipped it: which complaint of a day comes first depends on how the inputs'
    partitions interleaved (docs/intake.md "Order"), the day and the counts do not (issue 27).
    None: nothing to raise."""
    if already_open or not is_spike(current, baseline, policy):
        return None
    return AlertRaised(
        alert_id=f"{SPIKE_RULE}:{unit}:{code}:{day.isoformat()}", rule_id=SPIKE_RULE, severity="warning",
        subject=unit,
        message=AlertMessage(
            sv=f"{current} klagomål i kategorin {code} på {policy.window_days} dagar, "
               f"minst {policy.ratio} gånger enhetens vanliga nivå: möjlig patientsäkerhetsrisk.",
            en=f"{current} complaints in category {code} within {policy.window_days} days, "
               f"at least {policy.ratio} times the unit's usual level: possible patient-safety risk."),
        facts={"care_unit_hsa_id": unit, "category": code, "day": day.isoformat(), "count": current,
               "baseline_count": baseline, "window_days": policy.window_days,
               "baseline_days": policy.baseline_days, "min_count": policy.min_count, "ratio": policy.ratio},
        raised_at=raised_at)


def spike_resolution(alert_id: str, unit: str, code: str, days: Mapping[str, int], raised_at: datetime,
                     at: datetime, policy: SpikePolicy) -> AlertResolved | None:
    """An open spike alert is resolved when the window ending on `at`'s Swedish date no longer
    spikes (`window_counts`, `is_spike`); None while it still does."""
    current, baseline = window_counts(days, spike_day(at), policy)
    if is_spike(current, baseline, policy):
        return None
    return AlertResolved(
        alert_id=alert_id, rule_id=SPIKE_RULE, severity="warning", subject=unit,
        message=AlertMessage(sv=f"Antalet klagomål i kategorin {code} är tillbaka på normal nivå.",
                             en=f"Complaints in category {code} are back to their usual level."),
        facts={"care_unit_hsa_id": unit, "category": code, "count": current, "baseline_count": baseline},
        raised_at=raised_at, resolved_at=at)
