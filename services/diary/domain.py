"""Pure diary decisions: what a document is, when it is registered, its diarienummer, its public
(masked) entry, which letters are dispatched and when, and what the diary's alerts say.

No I/O, clock or faust here: the handlers read the stores and the clock and pass values in (the
numbering's `holder` is a read-only lookup of a year's numbers). The registration year is the year
in the registry's own time zone (a letter registered 31 Dec 23:30 UTC belongs to next year in Sweden).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from shared.contract.events import (
    AlertMessage,
    AlertRaised,
    CareUnitUpserted,
    CaseOpened,
    DiaryRegistered,
    LetterCreated,
    LetterDispatched,
    LetterReceived,
)

from . import keys

LAG_RULE = "diary.registration_lag"
"""Alert rule: a document registered longer after its arrival than `PN_DIARY_REGISTRATION_LAG_SECONDS`."""
UNKNOWN_RECIPIENT_RULE = "diary.unknown_recipient"
"""Alert rule: a registered outgoing letter whose recipient is not (yet) in the HSA directory."""

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
            key=keys.complaint(data.case_id), document_id=data.case_id, kind="complaint", direction="in",
            case_id=data.case_id, counterpart=PRIVATE_SENDER,
            subject=f"Klagomål ({categories})" if categories else "Klagomål", confidential=True)
    if isinstance(data, LetterReceived):
        return Document(
            key=keys.incoming_letter(data.letter_id), document_id=data.letter_id, kind="letter", direction="in",
            case_id=data.case_id, counterpart=data.sender_hsa_id, subject=data.subject,
            confidential=data.contains_patient_data)
    return Document(
        key=keys.outgoing_letter(data.letter_id), document_id=data.letter_id, kind="letter", direction="out",
        case_id=data.case_id, counterpart=data.recipient_hsa_id, subject=data.subject,
        confidential=data.contains_patient_data)


def own_time(data: CaseOpened | LetterReceived | LetterCreated, event_time: datetime) -> datetime:
    """A document's own time, at which backfill mode (`PN_DIARY_BACKFILL`, importing an old
    register) registers it: when its case was opened, else its event time."""
    return getattr(data, "opened_at", None) or event_time


def registration_year(at: datetime, timezone: str) -> int:
    """The diary year: the year of the registration time in the registry's time zone
    (`PN_DIARY_TIMEZONE`, Europe/Stockholm; docs/domain.md "Swedish time")."""
    return at.astimezone(ZoneInfo(timezone)).year


def diary_number(prefix: str, year: int, n: int | str) -> str:
    """The diarienummer, `<prefix> <year>/<n>` (e.g. `PN 2023/17`)."""
    return f"{prefix} {year}/{n}"


def number_order(number: str) -> tuple[int, int]:
    """The sort key of a diarienummer, (year, n): `PN 2023/10` comes after `PN 2023/9`."""
    year, n = number.rsplit(" ", 1)[-1].split("/")
    return int(year), int(n)


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


def number_for(key: str, holder: Callable[[int], str | None], cached_last: int | None,
               hint: Callable[[], int]) -> int:
    """The number of document `key` in a year: the one it holds already (a crash kept its number's
    mapping, not its entry), else the next free one. `cached_last` (the last number this process
    handed out, None: unknown) is used only while `holder` still holds it (a rolled-back batch's
    numbers are gone); else the last number is found by `last_number` from `hint()`, the earlier
    versions' counter (read only when needed)."""
    last = cached_last
    held = holder(last) if last else None
    if last is None or (last and held is None):
        last = last_number(hint(), holder)
        held = holder(last) if last else None
    return last if held == key else next_number(last, holder, key)


def public_entry(doc: Document, number: str, registered_at: datetime) -> DiaryRegistered:
    """The entry for the public register: a confidential document gets the neutral subject."""
    return DiaryRegistered(
        diary_number=number, registered_at=registered_at, direction=doc.direction, document_kind=doc.kind,
        case_id=doc.case_id, counterpart=doc.counterpart,
        subject=NEUTRAL_SUBJECTS[(doc.direction, doc.kind)] if doc.confidential else doc.subject,
        confidential=doc.confidential, confidentiality_ref=OSL_REF if doc.confidential else None,
        document_id=doc.document_id)


def listed_under_case(doc: Document) -> bool:
    """Whether a registered document is listed under its case (`keys.case_letters`): a letter is;
    a complaint is not, it is found by its case id (`keys.complaint`; lists written by earlier
    versions also hold it)."""
    return doc.kind != "complaint"


def lag_seconds(arrived_at: datetime, registered_at: datetime) -> float:
    """Seconds from a document's arrival (its event time) to its registration."""
    return (registered_at - arrived_at).total_seconds()


def registration_lag_alert(doc: Document, arrived_at: datetime, registered_at: datetime,
                           limit_seconds: float) -> AlertRaised | None:
    """The `diary.registration_lag` warning when a document is registered more than
    `limit_seconds` after its arrival (`PN_DIARY_REGISTRATION_LAG_SECONDS`, 60 s: docs/domain.md
    assumption A14), else None. One alert per document (its id is the rule and the document)."""
    lag = lag_seconds(arrived_at, registered_at)
    if lag <= limit_seconds:
        return None
    return AlertRaised(
        alert_id=f"{LAG_RULE}:{doc.key}", rule_id=LAG_RULE, severity="warning", subject=doc.case_id,
        message=AlertMessage(
            sv=f"En handling i ärende {doc.case_id} registrerades {lag:.0f} s efter ankomst (gräns {limit_seconds:.0f} s).",
            en=f"A document of case {doc.case_id} was registered {lag:.0f} s after arrival (limit {limit_seconds:.0f} s)."),
        facts={"document": doc.key, "case_id": doc.case_id, "lag_seconds": round(lag, 3),
               "limit_seconds": limit_seconds},
        raised_at=registered_at)


# -- dispatch --------------------------------------------------------------------------------------------
def is_dispatched(entry: DiaryRegistered) -> bool:
    """Only outgoing letters are sent to the care provider, and only from their registration
    (letters go via the diary: docs/domain.md seed row 11); complaints and incoming letters are not."""
    return entry.direction == "out" and entry.document_kind == "letter" and entry.document_id is not None


def letter_to_dispatch(entry: DiaryRegistered, backfill: bool) -> dict[str, Any]:
    """What dispatch needs of a registered letter (kept while it waits for its recipient). In
    backfill mode an imported letter went out when it was registered, so that time is kept."""
    letter = {"letter_id": entry.document_id, "diary_number": entry.diary_number, "case_id": entry.case_id}
    if backfill:
        letter["registered_at"] = entry.registered_at.isoformat()
    return letter


def unit_record(unit: CareUnitUpserted) -> dict[str, str]:
    """What the diary keeps of a care unit: its name (shown in the register) and its registry
    address (where letters go)."""
    return {"name": unit.name, "registry_address": unit.registry_address}


def dispatch(letter: dict[str, Any], hsa_id: str, unit: dict[str, Any], now: datetime) -> LetterDispatched:
    """The letter sent to the recipient unit's registry address: now, or for a backfilled letter
    at its registration time."""
    backfilled = letter.get("registered_at")
    return LetterDispatched(
        letter_id=letter["letter_id"], diary_number=letter["diary_number"],
        registry_address=unit["registry_address"],
        dispatched_at=datetime.fromisoformat(backfilled) if backfilled else now,
        recipient_hsa_id=hsa_id, case_id=letter["case_id"])


def unknown_recipient_alert(entry: DiaryRegistered, at: datetime) -> AlertRaised:
    """The `diary.unknown_recipient` warning: a registered outgoing letter waits because its
    recipient (`entry.counterpart`, an HSA-id) is not in the directory; it is sent once the unit
    appears. One alert per letter (its id is the rule and the letter)."""
    hsa_id = entry.counterpart
    return AlertRaised(
        alert_id=f"{UNKNOWN_RECIPIENT_RULE}:{entry.document_id}", rule_id=UNKNOWN_RECIPIENT_RULE,
        severity="warning", subject=entry.case_id,
        message=AlertMessage(
            sv=f"Skrivelse {entry.diary_number} är registrerad men mottagaren {hsa_id} finns inte i HSA-katalogen; "
               "den skickas när enheten finns.",
            en=f"Letter {entry.diary_number} is registered but its recipient {hsa_id} is not in the HSA directory; "
               "it is sent once the unit appears."),
        facts={"letter_id": entry.document_id, "diary_number": entry.diary_number, "recipient_hsa_id": hsa_id,
               "case_id": entry.case_id},
        raised_at=at)
