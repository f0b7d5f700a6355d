"""Which topics feed which processor: assignments, visits and ticks (4 partitions); commands and
payout drafts (1)."""

from __future__ import annotations

from shared.contract.topics import COMMANDS, FEES_DRAFTS, SUPPORT_ASSIGNMENTS, SUPPORT_VISITS, TICKS
from shared.service.processor import Processor
from shared.service.wiring import Wiring


def register(runtime: Wiring, *, visits: Processor, books: Processor) -> None:
    # idempotent by their facts (handlers.py: v|, h|, r|, a|/c|/e|): no seen-id write per visit
    runtime.consume(SUPPORT_ASSIGNMENTS, SUPPORT_VISITS, TICKS, processor=visits, idempotent=True)
    runtime.consume(COMMANDS, FEES_DRAFTS, processor=books)
