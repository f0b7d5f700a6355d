"""Which topics feed which processor: budgets, postings and ticks (4 partitions, co-partitioned by
cost centre); the cost centres' figures (1 partition) for the total."""

from __future__ import annotations

from shared.contract.topics import BUDGET_CENTRES, FINANCE_BUDGETS, FINANCE_POSTINGS, TICKS
from shared.service.processor import Processor
from shared.service.state import Store
from shared.service.wiring import Wiring


def register(runtime: Wiring, *, ledger: Processor, centres: Processor, totals: Store) -> None:
    # idempotent by their facts (handlers.py: k| per posting, b| per budget; a second delivery
    # changes no figure, so publishes nothing): no seen-id write per event
    runtime.consume(FINANCE_BUDGETS, FINANCE_POSTINGS, TICKS, processor=ledger, idempotent=True)
    # not idempotent by its facts: `c|` keeps a cost centre's *latest* status, so an older status
    # delivered again (a replay after kill -9, a resent duplicate) would put an older figure back
    # and publish a total under that status's id with other content. Seen ids skip it; they are
    # kept in `totals` itself, after the writes they mark in its one changelog partition.
    runtime.consume(BUDGET_CENTRES, processor=centres, seen_in=totals)
