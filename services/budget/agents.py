"""Which topics feed which processor: budgets, postings and ticks (4 partitions, co-partitioned by
cost centre); the cost centres' figures (1 partition) for the total."""

from __future__ import annotations

from shared.consumer import Processor
from shared.streaming import ServiceRuntime
from shared.topics import BUDGET_CENTRES, FINANCE_BUDGETS, FINANCE_POSTINGS, TICKS


def register(runtime: ServiceRuntime, *, ledger: Processor, centres: Processor) -> None:
    # idempotent by their facts (handlers.py: k| per posting, b| per budget, c| per centre status;
    # a second delivery changes no figure, so publishes nothing): no seen-id write per event
    runtime.consume(FINANCE_BUDGETS, FINANCE_POSTINGS, TICKS, processor=ledger, idempotent=True)
    runtime.consume(BUDGET_CENTRES, processor=centres, idempotent=True)
