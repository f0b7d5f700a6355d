"""Build a report from the topics: read every record on the contract's output topics from the
beginning (Kafka is the record), decode, and hand the envelopes to the pure figure functions."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from shared.apps.report.figures import NoDataError, parse_period, report_from_events
from shared.apps.report.render import FORMATS, render
from shared.contract.events import (
    AlertRaised,
    AlertResolved,
    BudgetStatus,
    CaseOpened,
    DiaryRegistered,
    FeeCalculated,
    FeePayout,
    InvoiceIssued,
    LetterDispatched,
    decode,
)
from shared.contract.topics import (
    ALERTS_BUDGET,
    ALERTS_OPS,
    BILLING_INVOICES,
    BUDGET_STATUS,
    CASES_OPENED,
    DIARY_ENTRIES,
    FEES_CALCULATED,
    FEES_PAYOUTS,
    LETTERS_DISPATCHED,
)
from shared.service.settings import PnSettings

TOPICS = (CASES_OPENED, DIARY_ENTRIES, LETTERS_DISPATCHED, FEES_CALCULATED, FEES_PAYOUTS, BILLING_INVOICES,
          BUDGET_STATUS, ALERTS_BUDGET, ALERTS_OPS)
TYPES = (CaseOpened, DiaryRegistered, LetterDispatched, FeeCalculated, FeePayout, InvoiceIssued, BudgetStatus,
         AlertRaised, AlertResolved)

__all__ = ["FORMATS", "NoDataError", "build_report", "decode_records", "read_events", "report_from_events", "write_report"]


def decode_records(values: Iterable[bytes | None]) -> list[Any]:
    """Envelopes of the report's types; anything else on those topics is skipped."""
    out = []
    for v in values:
        if not v:
            continue
        try:
            out.append(decode(v, *TYPES))
        except ValueError:  # pydantic's ValidationError: not one of ours (dead letters go elsewhere)
            continue
    return out


async def read_events(settings: PnSettings, *, progress: Callable[[int], None] | None = None) -> list[Any]:
    """Every decodable event on the report's topics, from the beginning."""
    from shared.kafka.io import read_all

    records = await read_all(settings, TOPICS, idle_s=0.5, max_wait_s=300.0, progress=progress)
    return decode_records(r.value for r in records)


async def build_report(settings: PnSettings, period: str, *, progress: Callable[[int], None] | None = None,
                       generated_at: datetime | None = None) -> dict[str, Any]:
    """Read the topics and build the report for `period` (`2023` or `2023-Q3`).
    Raises ValueError for a bad period, NoDataError when the period has no data."""
    p = parse_period(period)
    events = await read_events(settings, progress=progress)
    return report_from_events(events, p, generated_at=generated_at, region=settings.region)


def write_report(report: dict[str, Any], fmt: str, path: str | Path) -> Path:
    """Write the report as html, json or csv; returns the path."""
    path = Path(path)
    text = render(report, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
