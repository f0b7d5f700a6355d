"""Swedish time: every decision that depends on a date (case year, spike day, diary year, report
period) takes the date in Europe/Stockholm, whatever offset the event was sent with.

A complaint sent at 2023-12-31T23:30:00Z arrived at 00:30 on New Year's Day in Sweden: it is a
2024 complaint. Naive timestamps are taken as UTC (the contract's times carry an offset; a naive
one can only come from a careless producer, and UTC is the least surprising reading).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def swedish(at: datetime) -> datetime:
    """`at` as Swedish wall-clock time (CET/CEST)."""
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).astimezone(STOCKHOLM)


def swedish_date(at: datetime) -> date:
    """The Swedish calendar date of a timestamp."""
    return swedish(at).date()


def swedish_year(at: datetime) -> int:
    """The Swedish calendar year of a timestamp."""
    return swedish(at).year
