"""Pure diary decisions: what a document is, its diarienummer, and its public (masked) entry.

No I/O, clock or faust here. The registration year is the year in the registry's own time zone
(a letter registered 31 Dec 23:30 UTC belongs to next year in Sweden).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo

from shared.contract.events import CaseOpened, DiaryRegistered, LetterCreated, LetterReceived

OSL_REF = "25 kap. 1 § OSL"
NEUTRAL_SUBJECTS = {
    ("in", "complaint"): "Klagomål avseende vård",
    ("out", "letter"): "Skrivelse till vårdgivare",
    ("in", "letter"): "Skrivelse från vårdgivare",
}
PRIVATE_SENDER = "Enskild"
"""The sender of every complaint: the complainant (patient, närstående or ombud), a private person
whose identity is confidential with the patient's health data (25 kap. 1 § OSL), so the public
register names no one. The care provider complained about is not the sender: it receives the
nämnd's letters, which name it as their recipient."""


class Document(NamedTuple):
    """A document to register. `subject` is the original (internal) subject, never published
    when `confidential`. A NamedTuple: immutable, and built in a third of a frozen dataclass's
    time (each document is taken apart twice, in stage 1 and in stage 2)."""

    key: str
    document_id: str
    kind: Literal["complaint", "letter"]
    direction: Literal["in", "out"]
    case_id: str
    counterpart: str
    subject: str
    confidential: bool


def document_of(data: CaseOpened | LetterReceived | LetterCreated) -> Document:
    """Every complaint is confidential (it is about a patient's care) and comes from the
    complainant, registered masked as `PRIVATE_SENDER`; a letter is confidential when it says so.
    Letters name their care unit by HSA-id, which dispatch uses to find the registry address."""
    if isinstance(data, CaseOpened):
        categories = ", ".join([c.code for c in data.categories])
        return Document(
            key=f"complaint:{data.case_id}", document_id=data.case_id, kind="complaint", direction="in",
            case_id=data.case_id, counterpart=PRIVATE_SENDER,
            subject=f"Klagomål ({categories})" if categories else "Klagomål", confidential=True)
    if isinstance(data, LetterReceived):
        return Document(
            key=f"in-letter:{data.letter_id}", document_id=data.letter_id, kind="letter", direction="in",
            case_id=data.case_id, counterpart=data.sender_hsa_id, subject=data.subject,
            confidential=data.contains_patient_data)
    return Document(
        key=f"out-letter:{data.letter_id}", document_id=data.letter_id, kind="letter", direction="out",
        case_id=data.case_id, counterpart=data.recipient_hsa_id, subject=data.subject,
        confidential=data.contains_patient_data)


def registration_year(at: datetime, timezone: str) -> int:
    return at.astimezone(ZoneInfo(timezone)).year


def diary_number(prefix: str, year: int, n: int) -> str:
    return f"{prefix} {year}/{n}"


def last_number(hint: int, holder: Callable[[int], str | None]) -> int:
    """The highest number held, found in O(log n) reads: numbers are held gaplessly from 1 (a crash
    keeps a prefix of a batch's writes, whose number keys come in number order). `hint` is a number
    believed held (0: none), e.g. an old `seq|<year>`; it is checked, not trusted. Should the
    numbers ever not be a prefix, the result is some held number followed by a free one, and
    `next_number` still skips every number held by another document: none is handed out twice."""
    lo = hint if hint > 0 and holder(hint) is not None else 0  # held (or 0)
    step = 1
    hi = lo + step
    while holder(hi) is not None:  # gallop up to a free number
        lo, step = hi, step * 2
        hi = lo + step
    while hi - lo > 1:  # lo held (or 0), hi free
        mid = (lo + hi) // 2
        if holder(mid) is not None:
            lo = mid
        else:
            hi = mid
    return lo


def next_number(last: int, holder: Callable[[int], str | None], key: str) -> int:
    """The number after `last`, skipping numbers already held by another document (a crash may
    have kept a number's mapping but not the counter); a number held by `key` itself is its own."""
    n = last + 1
    while (held := holder(n)) is not None and held != key:
        n += 1
    return n


def public_entry(doc: Document, number: str, registered_at: datetime) -> DiaryRegistered:
    """The entry for the public register: a confidential document gets the neutral subject."""
    return DiaryRegistered(
        diary_number=number, registered_at=registered_at, direction=doc.direction, document_kind=doc.kind,
        case_id=doc.case_id, counterpart=doc.counterpart,
        subject=NEUTRAL_SUBJECTS[(doc.direction, doc.kind)] if doc.confidential else doc.subject,
        confidential=doc.confidential, confidentiality_ref=OSL_REF if doc.confidential else None,
        document_id=doc.document_id)


def lag_seconds(arrived_at: datetime, registered_at: datetime) -> float:
    return (registered_at - arrived_at).total_seconds()
