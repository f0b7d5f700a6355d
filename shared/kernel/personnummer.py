"""Swedish personal identity numbers (personnummer) and samordningsnummer.

Accepted forms: `YYYYMMDDNNNC` and `YYYYMMDD-NNNC` (also `+` for people over 100). The check
digit is Luhn over the 10 digits `YYMMDDNNN`; a samordningsnummer adds 60 to the day.
"""

from __future__ import annotations

import re
from datetime import date

_SHAPE = re.compile(r"^(\d{8})[-+]?(\d{4})$")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def normalise(value: str) -> str:
    """Return the 12-digit form or raise ValueError saying what is wrong (never echoing it)."""
    match = _SHAPE.match(value.strip())
    if not match:
        raise ValueError("personnummer must be 12 digits (YYYYMMDDNNNC or YYYYMMDD-NNNC)")
    birth, tail = match.groups()
    year, month, day = int(birth[:4]), int(birth[4:6]), int(birth[6:8])
    if day > 60:  # samordningsnummer
        day -= 60
    try:
        date(year, month, day)
    except ValueError:
        raise ValueError("personnummer has an impossible birth date") from None
    if not luhn_ok(birth[2:] + tail):
        raise ValueError("personnummer check digit is wrong")
    return birth + tail


def is_samordningsnummer(value: str) -> bool:
    return int(normalise(value)[6:8]) > 60


# Shapes that look like a personnummer in free text; used by the log redactor.
PERSONNUMMER_PATTERN = re.compile(r"(?<!\d)(?:19|20)?\d{6}[-+]?\d{4}(?!\d)")
