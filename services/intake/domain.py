"""Intake decisions, pure: is it a complaint, which case number, which categories, who gets the
receipt, is a care unit's category spiking. No I/O, clock, logging or faust here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from itertools import takewhile
from typing import Any

from shared.contract.events import CategoryRef, ComplaintSubmitted
from shared.kernel.personnummer import normalise

from .rules import CategoryRules, SpikePolicy


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


def reference_key(complaint: ComplaintSubmitted) -> str | None:
    """The upstream's own idempotency key: the same external_ref from one channel is one complaint."""
    return f"{complaint.channel}|{complaint.external_ref}" if complaint.external_ref else None


# -- case numbers: PN-<year>-<5-digit sequence>, per year ------------------------------------------
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


def letter_template(direction: str, document_kind: str) -> str | None:
    """Registered letters out mean the complaint went to the provider; letters in, that it replied."""
    if document_kind != "letter":
        return None
    return "sent_to_provider" if direction == "out" else "provider_replied"


# -- patient-safety signal -------------------------------------------------------------------------
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
