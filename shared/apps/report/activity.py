"""The activity the annual report tells beside the complaints: support-person assignments (ongoing
at the end of the period, new and ended in it) and advice contacts that are not complaints.

An assignment ends on `pn.support.ended`'s date or 28 days after the compulsory care ended
(`pn.support.care_ended`; the right to a support person lasts four weeks after discharge, as the
fees service applies it), whichever is first. Pure functions: decoded event data in, counts out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

AFTER_CARE = timedelta(days=28)

ADVICE_CHANNELS = {"phone": "Telefon", "1177": "1177", "email": "E-post", "letter": "Brev", "visit": "Besök"}
ADVICE_SUBJECTS = {
    "lagstiftning": "Lagstiftning och rättigheter", "rutiner": "Rutiner och riktlinjer",
    "hanvisning_ivo": "Hänvisning till IVO", "hanvisning_lof": "Hänvisning till patientförsäkringen LÖF",
    "hanvisning_annan": "Hänvisning till annan instans", "ovrigt": "Övrigt",
}


def assignment_periods(assigned: Iterable[Any], care_ended: Iterable[Any], ended: Iterable[Any]) -> dict[str, tuple[date, date | None]]:
    """assignment id → (start, end or None while it goes on)."""
    care = {e.assignment_id: e.care_ended_on for e in care_ended}
    stop = {e.assignment_id: e.ended_on for e in ended}
    out = {}
    for a in assigned:
        ends = [d for d in (stop.get(a.assignment_id),
                            care[a.assignment_id] + AFTER_CARE if a.assignment_id in care else None) if d]
        out[a.assignment_id] = (a.start_date, min(ends) if ends else None)
    return out


def assignments(periods: dict[str, tuple[date, date | None]], first: date, last: date) -> dict[str, int]:
    """Ongoing at the end of the period, new in it, ended in it."""
    return {
        "ongoing": sum(1 for s, e in periods.values() if s <= last and (e is None or e > last)),
        "new": sum(1 for s, _ in periods.values() if first <= s <= last),
        "ended": sum(1 for _, e in periods.values() if e is not None and first <= e <= last),
    }


def advice(contacts: Iterable[Any], first: date, last: date) -> tuple[int, Counter, Counter]:
    """(total, per channel, per subject area) of the advice contacts dated within the period."""
    inside = [c for c in contacts if first <= c.date <= last]
    return len(inside), Counter(c.channel for c in inside), Counter(c.subject_area for c in inside)
