"""Which topics feed which processor: the public assignments and visits (4 partitions) to the
re-keying stage; the re-keyed facts and ticks (4) to pricing; commands and payout drafts (1) to books."""

from __future__ import annotations

from shared.contract.topics import (
    COMMANDS,
    FEES_DRAFTS,
    FEES_PERSONS,
    SUPPORT_ASSIGNMENTS,
    SUPPORT_VISITS,
    TICKS,
)
from shared.service.processor import Processor
from shared.service.wiring import Wiring


def register(runtime: Wiring, *, route: Processor, visits: Processor, books: Processor) -> None:
    # idempotent by their facts (handlers.py: s|/p| forwarding the same; v|, h|, r|, a|/c|/e|):
    # no seen-id write per visit; the public topics' ids are guarded against reuse in stage 1
    runtime.consume(SUPPORT_ASSIGNMENTS, SUPPORT_VISITS, processor=route, idempotent=True)
    runtime.consume(FEES_PERSONS, TICKS, processor=visits, idempotent=True)
    runtime.consume(COMMANDS, FEES_DRAFTS, processor=books)
