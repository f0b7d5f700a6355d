"""Which topics feed which processor: budgets, postings and ticks (4 partitions) re-keyed into
`pn.budget.ledger` (4 partitions, by cost centre with our partitioner), where the figures are kept;
the cost centres' figures (1 partition) for the total."""

from __future__ import annotations

from shared.contract.topics import (
    BUDGET_CENTRES,
    BUDGET_LEDGER,
    FINANCE_BUDGETS,
    FINANCE_POSTINGS,
    TICKS,
)
from shared.service.processor import Processor
from shared.service.state import Store
from shared.service.wiring import Wiring


def register(runtime: Wiring, *, forward: Processor, ledger: Processor, centres: Processor, totals: Store) -> None:
    # forwarding again sends the same event (same id); the public topics' ids are guarded against
    # reuse with other content here, before they are forwarded
    runtime.consume(FINANCE_BUDGETS, FINANCE_POSTINGS, TICKS, processor=forward, idempotent=True)
    # idempotent by their facts (handlers.py: k| per posting, b| per budget; a second delivery
    # changes no figure, so publishes nothing): no seen-id write per event
    runtime.consume(BUDGET_LEDGER, processor=ledger, idempotent=True)
    # not idempotent by its facts: `c|` keeps a cost centre's *latest* status, so an older status
    # delivered again (a replay after kill -9, a resent duplicate) would put an older figure back
    # and publish a total under that status's id with other content. Seen ids skip it; they are
    # kept in `totals` itself, after the writes they mark in its one changelog partition.
    runtime.consume(BUDGET_CENTRES, processor=centres, seen_in=totals)
