"""Region Jämtland Härjedalen's patientnämnd, economy 2023 (DOMAIN.md), as budgets and postings.

The seed gives tkr per account row and per cost centre; this is one exact split in kr that rounds
to every figure of the seed's table (half away from zero, as the table does):

| row (seed)        | account group | actual     | budget     | deviation |
| ---               | ---           | ---        | ---        | ---       |
| revenue           | revenue       |    349,400 |    400,000 |   −50,600 |
| personnel         | personnel+fees| −3,278,500 | −3,557,000 |  +278,500 |
| services          | other (6101)  |          0 |    −10,000 |   +10,000 |
| other             | other (6102/3)|   −235,000 |   −333,000 |   +98,000 |
| net               |               | −3,164,100 | −3,500,000 |  +335,900 |

By cost centre: 6101 +16,000, 6102 +259,900, 6103 +60,000. The support persons' fees
(arvoden) are 6103 `fees`, part of the seed's personnel row; 6101's `other` is the seed's
services row alone, so its +10 tkr stays visible.
"""

from __future__ import annotations

from decimal import Decimal

from shared.contract.events import BudgetSet, LedgerPosted
from shared.contract.events.types import period_of

# (cost centre, account group): (annual actual, annual budget) in kr
JAMTLAND_2023: dict[tuple[str, str], tuple[Decimal, Decimal]] = {
    ("6101", "personnel"): (Decimal("-334000"), Decimal("-340000")),
    ("6101", "other"): (Decimal("0"), Decimal("-10000")),
    ("6102", "revenue"): (Decimal("349400"), Decimal("400000")),
    ("6102", "personnel"): (Decimal("-1999500"), Decimal("-2217000")),
    ("6102", "other"): (Decimal("-157000"), Decimal("-250000")),
    ("6103", "personnel"): (Decimal("-95000"), Decimal("-100000")),
    ("6103", "fees"): (Decimal("-850000"), Decimal("-900000")),
    ("6103", "other"): (Decimal("-78000"), Decimal("-83000")),
}
COST_CENTRES = {"6101": "Patientnämnden", "6102": "Patientnämndens förvaltning", "6103": "Stödpersoner"}


def monthly(annual: Decimal) -> list[Decimal]:
    """Twelve amounts summing exactly to `annual`: whole kr each month, the rest in December."""
    base = (abs(annual) / 12).to_integral_value(rounding="ROUND_FLOOR")
    base = base if annual >= 0 else -base
    return [base] * 11 + [annual - base * 11]


def jamtland_2023(year: int = 2023) -> tuple[list[BudgetSet], list[LedgerPosted]]:
    """Budgets per cost centre and account group, and twelve months of postings, for `year`."""
    budgets: list[BudgetSet] = []
    postings: list[LedgerPosted] = []
    for (cc, group), (actual, budget) in JAMTLAND_2023.items():
        budgets.append(BudgetSet(year=year, cost_centre=cc, account_group=group, monthly=monthly(budget)))
        for month, amount in enumerate(monthly(actual), start=1):
            if amount == 0:
                continue
            postings.append(LedgerPosted(
                posting_id=f"jamtland-{year}-{cc}-{group}-{month:02d}", period=period_of(year, month),
                cost_centre=cc, account_group=group, amount=amount,
                text=f"{COST_CENTRES[cc]} {group} {period_of(year, month)}"))
    postings.sort(key=lambda p: (p.period, p.cost_centre, p.account_group))  # as the ledger books them: month by month
    return budgets, postings
