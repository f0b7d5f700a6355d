"""Issue 24: `pn.budget.status` compacted per cost centre AND period keeps every month, so the
budget section of a past quarter can be rebuilt from a compacted log. With the old key (the cost
centre alone) compaction kept only the latest month: a Q1 report had no budget section."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.apps.report.figures import Period, budget
from shared.contract.events import make_event
from shared.contract.events.finance import BudgetStatus
from shared.contract.topics import BUDGET_STATUS

from ..shared.examples import EXAMPLES


def statuses() -> list:
    out = []
    for year, month, actual in [(2023, 1, "-10.00"), (2023, 2, "-20.00"), (2023, 3, "-25.00"), (2023, 3, "-30.00"),
                                (2023, 4, "-40.00"), (2023, 12, "-90.00"), (2024, 1, "-5.00")]:
        for cc in ("6101", "total"):
            figures = {**EXAMPLES["pn.budget.status"]["total"], "actual_ytd": actual}
            data = BudgetStatus.model_validate({**EXAMPLES["pn.budget.status"], "year": year, "cost_centre": cc,
                                                "period": f"{year}-{month:02d}", "total": figures,
                                                "account_groups": {"fees": figures}})
            out.append(make_event(data, source="urn:budget", time=datetime(year, month, 20, tzinfo=UTC)))
    return out


def compact(events: list, key) -> list:
    """What Kafka's compaction keeps: the last record per key, in log order."""
    last = {key(e): i for i, e in enumerate(events)}
    return [e for i, e in enumerate(events) if last[key(e)] == i]


def figures(events: list, period: str) -> dict:
    year, _, q = period.partition("-Q")
    chosen = budget([e.data for e in events], Period(int(year), int(q) if q else None))
    return {cc: str(s.total.actual_ytd) for cc, s in chosen.items()}


def test_a_past_quarter_is_the_same_from_the_compacted_log():
    log = statuses()
    kept = compact(log, BUDGET_STATUS.key_for)
    assert len(kept) < len(log)
    for period in ("2023-Q1", "2023-Q2", "2023", "2024-Q1"):
        assert figures(kept, period) == figures(log, period), period
    assert figures(kept, "2023-Q1") == {"6101": "-30.00", "total": "-30.00"}


def test_the_old_key_lost_every_month_but_the_last():
    kept = compact(statuses(), lambda e: e.data.cost_centre)
    assert figures(kept, "2023-Q1") == {}  # the bug issue 24 reports: no budget section for Q1
