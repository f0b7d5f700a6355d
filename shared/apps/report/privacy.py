"""The one privacy rule of the reports: a count below 5 is shown as "< 5".

Small counts can identify a patient (one complaint about one unit in one quarter), so every table
cell that counts cases, letters, visits, people or care days goes through `mask`. Zero stays 0
(nobody can be identified from nothing). Money that follows from a masked count (care days x price)
is masked with it (`mask_with`). Reports carry no free text, names or personnummer: figures are
built from codes, ids of units and providers' names only.
"""

from __future__ import annotations

from typing import Any

THRESHOLD = 5
MASKED = "< 5"


def is_small(n: int) -> bool:
    return 0 < n < THRESHOLD


def mask(n: int) -> int | str:
    """`n`, or "< 5" when 1 <= n <= 4."""
    return MASKED if is_small(n) else n


def mask_with(count: int, value: Any) -> Any:
    """A value derived from `count` (an amount, a median), hidden when the count is small."""
    return MASKED if is_small(count) else value


def chart_value(cell: Any) -> float:
    """What a chart plots for a table cell: masked cells are drawn as 0 (never their true value)."""
    if cell == MASKED or cell is None:
        return 0.0
    return float(cell)
