"""Intake decisions, pure: is it a complaint, which case number, which categories, who gets the
receipt, is a care unit's category spiking. No I/O, clock, logging or faust here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from shared.events import CategoryRef, ComplaintSubmitted
from shared.personnummer import normalise

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
    given = list(dict.fromkeys(c for c in complaint.categories or () if c in rules.codes))
    if given:
        return [CategoryRef(code=c, source="submitter") for c in given]
    matched = rules.matching(complaint.description) or [rules.fallback]
    return [CategoryRef(code=c, source="rules") for c in matched]


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
    counted already (a replay): nothing changes. Days no window needs are dropped."""
    last = tally.get("last")
    if last is not None and case_order(case_id) <= case_order(last):
        return dict(tally)
    oldest = day - timedelta(days=policy.window_days + policy.baseline_days)
    days = {d: n for d, n in tally.get("days", {}).items() if date.fromisoformat(d) > oldest}
    days[day.isoformat()] = days.get(day.isoformat(), 0) + 1
    return {"days": days, "last": case_id}


def window_counts(days: Mapping[str, int], today: date, policy: SpikePolicy) -> tuple[int, int]:
    """(count in the window ending today, count in the baseline period before that window)."""
    window_start = today - timedelta(days=policy.window_days)
    baseline_start = window_start - timedelta(days=policy.baseline_days)
    current = baseline = 0
    for d, n in days.items():
        day = date.fromisoformat(d)
        if window_start < day <= today:
            current += n
        elif baseline_start < day <= window_start:
            baseline += n
    return current, baseline


def is_spike(current: int, baseline: int, policy: SpikePolicy) -> bool:
    """count ≥ min_count and count ≥ ratio × (baseline × window / baseline_days), in integers."""
    return (current >= policy.min_count
            and current * policy.baseline_days >= policy.ratio * policy.window_days * baseline)
