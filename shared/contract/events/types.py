"""Value types shared by the event models: codes, periods, identifiers."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

Id = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")]
"""A business identifier (case id, letter id, visit id...): printable, no spaces."""

Text = Annotated[str, Field(max_length=500)]
CountyCode = Annotated[str, Field(pattern=r"^\d{2}$", description="county code, e.g. '20' Dalarna")]
CostCentre = Annotated[str, Field(pattern=r"^\d{4}$")]
LegalBasis = Literal["LPT", "LRV", "SmL"]
AccountGroup = Literal["revenue", "personnel", "fees", "other"]
Severity = Literal["info", "warning", "critical"]

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def _check_period(value: str) -> str:
    if not _PERIOD.match(value):
        raise ValueError("a period is YYYY-MM")
    return value


Period = Annotated[str, AfterValidator(_check_period)]


EARLIEST_DATE = date(1970, 1, 1)
LATEST_DATE = date(2999, 12, 31)


def _check_business_date(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"a date must lie between {EARLIEST_DATE} and {LATEST_DATE} (year {value.year} is not a "
                         "care, visit or fee date)")
    return value


BusinessDate = Annotated[date, AfterValidator(_check_business_date),
                         Field(description="a calendar date between 1970-01-01 and 2999-12-31")]
"""Every calendar date of the contract: care days, visits, assignments, letters. A date outside
this window (year 9999 or 1, a typo'd century) is a sender's error, not a fact to pay or bill:
the event is dead-lettered with the reason before any service computes a fee or an invoice from
it. The window is wide on purpose: the broker tests isolate their runs in far-future years
(2200-2900), and nothing narrower is decided by the contract; a service may refuse more."""


def period_of(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def next_period(period: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    return period_of(year + month // 12, month % 12 + 1)
