"""Region Jämtland Härjedalen's patientnämnd, economy 2023 (verksamhetsberättelse, "Ekonomisk
analys"), as budgets and the finance system's postings: fixed per account row, never back-solved.

Derivation (seed 001, table "Intäkter och kostnader" and the text under "Ekonomiskt resultat
jämfört med budget"). The text gives the deviations per cost centre and row:
- 6101 Patientnämnden **+16** tkr: travel and conferences not made → row "Övriga kostnader".
- 6102 Patientnämndens förvaltning **+260**: revenue **−51** (budget set too high), personnel
  **+224** (partial leave), other **+77** (restraint on travel and purchases); the table's
  "Verksamhetsanknutna tjänster" row (0 vs −10, **+10**) is the rest of 6102's +260.
- 6103 Stödpersoner **+60**: the text gives no split; the table's totals do. Personnel +279 less
  6102's +224 leaves **+55** on personnel, i.e. the support persons' fees (arvoden, taxable
  remuneration, group `fees`); other +98 less 6101's +16 and 6102's +77 leaves **+5** other.
  55 + 5 = 60.
Every figure of the table is rounded on its own (half away from zero, `shared.money.to_tkr`), and
the rounded rows do not add up: personnel −3,279 − (−3,557) is 278, yet the table says +279; the
net −3,164 − (−3,500) is 336 only from unrounded figures. One exact set in kr that rounds to all
of them: the fees' deviation is 54,500 kr (→ +55; personnel +278,500 → +279, outcome −3,278,500 →
−3,279; 6103 +59,500 → +60; net +335,500 → +336) and the other row's budget −332,600 kr (→ −333;
net budget −3,499,600 → −3,500, net outcome −3,164,100 → −3,164).

The split of each row's **budget** over the cost centres is not in the seed (it gives row totals
and per-cost-centre deviations only): it is an assumption, stated here and in docs/domain.md.
Only the deviations above are the seed's.

| cost centre | group | seed row | budget | outcome | deviation |
| --- | --- | --- | ---: | ---: | ---: |
| 6101 | personnel | Personalkostnader | −340,000 | −340,000 | 0 |
| 6101 | other | Övriga kostnader | −40,000 | −24,000 | +16,000 |
| 6102 | revenue | Försäljning | 400,000 | 349,000 | −51,000 |
| 6102 | personnel | Personalkostnader | −2,217,000 | −1,993,000 | +224,000 |
| 6102 | other | Övriga kostnader | −250,000 | −173,000 | +77,000 |
| 6102 | other | Verksamhetsanknutna tjänster | −10,000 | 0 | +10,000 |
| 6103 | fees | Personalkostnader (arvoden) | −1,000,000 | −945,500 | +54,500 |
| 6103 | other | Övriga kostnader | −42,600 | −37,600 | +5,000 |

The previous year's outcome (column "Ack utfall fg år") is `PREVIOUS_YEAR`: net −3,177 tkr.

In the demo the finance system posts every row but those the platform books itself
(`PLATFORM_ROWS`: the support persons' fees, posted by the fees service); the outcome is what the
services compute plus these fixed postings, and the summary sets it beside the seed's figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from shared.contract.events import BudgetSet, LedgerPosted
from shared.contract.events.types import period_of


@dataclass(frozen=True)
class Row:
    cost_centre: str
    group: str
    seed_row: str
    budget: Decimal
    deviation: Decimal
    why: str

    @property
    def outcome(self) -> Decimal:
        return self.budget + self.deviation


ROWS: tuple[Row, ...] = (
    Row("6101", "personnel", "Personalkostnader", Decimal("-340000"), Decimal("0"), "no deviation in the text"),
    Row("6101", "other", "Övriga kostnader", Decimal("-40000"), Decimal("16000"),
        "tjänsteresor och konferenser har inte genomförts i den utsträckning som budgeterats"),
    Row("6102", "revenue", "Försäljning", Decimal("400000"), Decimal("-51000"), "budgeten lagts för högt"),
    Row("6102", "personnel", "Personalkostnader", Decimal("-2217000"), Decimal("224000"), "partiella tjänstledigheter"),
    Row("6102", "other", "Övriga kostnader", Decimal("-250000"), Decimal("77000"),
        "återhållsam när det gäller tjänsteresor och inköp"),
    Row("6102", "other", "Verksamhetsanknutna tjänster", Decimal("-10000"), Decimal("10000"),
        "the table's row (0 vs −10): the rest of 6102's +260"),
    Row("6103", "fees", "Personalkostnader (arvoden)", Decimal("-1000000"), Decimal("54500"),
        "the table's personnel +279 less 6102's +224"),
    Row("6103", "other", "Övriga kostnader", Decimal("-42600"), Decimal("5000"),
        "the table's other +98 less 6101's +16 and 6102's +77"),
)
PLATFORM_ROWS = frozenset({("6103", "fees")})
"""Rows the platform books itself (fees service): the finance system does not post them in the demo."""
COST_CENTRES = {"6101": "Patientnämnden", "6102": "Patientnämndens förvaltning", "6103": "Stödpersoner"}
SEED_DEVIATION_TKR = {"6101": 16, "6102": 260, "6103": 60, "total": 336}
"""The seed's text: "Fördelningen per kostnadsställe"; and the net (+336 tkr)."""
SEED_NET_TKR = {"outcome": -3164, "budget": -3500, "previous_year": -3177}
PREVIOUS_YEAR: dict[str, Decimal] = {
    "Försäljning": Decimal("342000"), "Personalkostnader": Decimal("-3337000"),
    "Konsultkostnader": Decimal("-6000"), "Övriga kostnader": Decimal("-175000"),
    "Summa Verksamhetens nettokostnader": Decimal("-3177000"),
}
"""The seed's column "Ack utfall fg år" (2022), in kr (its rows are rounded to tkr)."""



def _by_group(rows: tuple[Row, ...]) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    out: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
    for row in rows:
        outcome, budget = out.get((row.cost_centre, row.group), (Decimal(0), Decimal(0)))
        out[(row.cost_centre, row.group)] = (outcome + row.outcome, budget + row.budget)
    return out


JAMTLAND_2023 = _by_group(ROWS)
"""(cost centre, account group): (annual outcome, annual budget) in kr, the rows of one group summed."""


def monthly(annual: Decimal) -> list[Decimal]:
    """Twelve amounts summing exactly to `annual`: whole kr each month, the rest in December."""
    base = (abs(annual) / 12).to_integral_value(rounding="ROUND_FLOOR")
    base = base if annual >= 0 else -base
    return [base] * 11 + [annual - base * 11]


def _slug(text: str) -> str:
    return "".join(c for c in text.lower().replace("å", "a").replace("ä", "a").replace("ö", "o") if c.isalnum())


def jamtland_2023(year: int = 2023, *, finance_only: bool = False) -> tuple[list[BudgetSet], list[LedgerPosted]]:
    """Budgets per cost centre and account group, and twelve months of postings per row, for
    `year`. With `finance_only` the rows the platform books itself (`PLATFORM_ROWS`) are left out:
    the finance system's own postings in the demo."""
    budgets = [BudgetSet(year=year, cost_centre=cc, account_group=group, monthly=monthly(budget))
               for (cc, group), (_outcome, budget) in JAMTLAND_2023.items()]
    postings: list[LedgerPosted] = []
    for row in ROWS:
        if finance_only and (row.cost_centre, row.group) in PLATFORM_ROWS:
            continue
        for month, amount in enumerate(monthly(row.outcome), start=1):
            if amount == 0:
                continue
            postings.append(LedgerPosted(
                posting_id=f"jamtland-{year}-{row.cost_centre}-{row.group}-{_slug(row.seed_row)}-{month:02d}",
                period=period_of(year, month), cost_centre=row.cost_centre, account_group=row.group, amount=amount,
                text=f"{COST_CENTRES[row.cost_centre]}: {row.seed_row} {period_of(year, month)}"))
    postings.sort(key=lambda p: (p.period, p.cost_centre, p.account_group))  # as the ledger books them: month by month
    return budgets, postings
