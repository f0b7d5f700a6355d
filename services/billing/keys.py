"""Every key of billing's two stores, named once; the strings are part of the stored state.

The stores' tables, their changelog topics and the record hold these exact strings: changing one
orphans what is stored under the old one. So each key is built, scanned and taken apart here only.

`days` (written from `pn.billing.days`, 1 partition; `care-days`, 4 partitions, before issue 27):
    d|<care date ISO>|<patient_ref>  → the day record (domain.day_record)
    x|<care_day_id>                  → the event id of the first cancel of that day
    a|<care_day_id>                  → the kept care_day_id a duplicate was alerted against
`invoices` (written from `pn.commands` and `pn.billing.drafts`, 1 partition each):
    closed                           → the closed periods, sorted
    issued|<period>|<home region>    → the invoices issued for them, in order (JSON InvoiceIssued)
`issued` (global: every worker holds all of it; written from `pn.billing.drafts` beside `invoices`):
    issued|<period>|<home region>    → the same list, for the summary view on any worker
"""

from __future__ import annotations

from datetime import date

# -- days ---------------------------------------------------------------------------------------
DAYS = "d|"
"""Prefix of the day records in `days` (a close scans them)."""
CANCELS = "x|"
"""Prefix of the cancels in `days` (a close scans them)."""
ALERTS = "a|"
"""Prefix of the duplicate alerts in `days`."""


def day(care_date: date, patient_ref: str) -> str:
    """`days`: the record of a vårddygn, keyed by patient and date (not care_day_id) so that a
    second care_day_id for the same patient and date finds the first: duplicate check and close in
    one key. The date comes first so a key shows its period without reading the record."""
    return f"{DAYS}{care_date.isoformat()}|{patient_ref}"


def day_date(key: str) -> str:
    """The care date (ISO `YYYY-MM-DD`) of a `day` key."""
    return key[len(DAYS):len(DAYS) + 10]


def day_period(key: str) -> str:
    """The period (`YYYY-MM`) of a `day` key."""
    return key[len(DAYS):len(DAYS) + 7]


def cancel(care_day_id: str) -> str:
    """`days`: the first cancel of a care day, keyed by the day it cancels so that a second
    cancel (or a replay) finds it, and so that a cancel may arrive before its day."""
    return f"{CANCELS}{care_day_id}"


def cancelled_day_id(key: str) -> str:
    """The care_day_id of a `cancel` key."""
    return key[len(CANCELS):]


def alerted(care_day_id: str) -> str:
    """`days`: the duplicate alert raised for a care day, keyed by the duplicate's own id so
    that a second delivery of the same event finds it and raises nothing."""
    return f"{ALERTS}{care_day_id}"


# -- invoices ------------------------------------------------------------------------------------
CLOSED = "closed"
"""`invoices`: the closed periods, one key for all, written by each close (the set, not a counter)."""
ISSUED = "issued|"
"""Prefix of the issued invoices in `invoices` (a close and the summary view scan them)."""


def issued(period: str, home_region: str) -> str:
    """`invoices`: every invoice issued for a period and home region, in order, in one key so that a
    draft's invoice is one write (all or nothing) and the next number is their count + 1."""
    return f"{ISSUED}{period}|{home_region}"


def issued_period(key: str) -> str:
    """The period (`YYYY-MM`) of an `issued` key."""
    return key[len(ISSUED):len(ISSUED) + 7]
