"""Which topics feed which processor: care days (4 partitions) are forwarded into billing's one
partition (`pn.billing.days`), where they are decided; commands and drafts (1 partition)."""

from __future__ import annotations

from shared.contract.topics import BILLING_DAYS, BILLING_DRAFTS, CARE_DAYS, COMMANDS
from shared.service.processor import Processor
from shared.service.wiring import Wiring


def register(runtime: Wiring, *, forward: Processor, days: Processor, books: Processor) -> None:
    # forwarding an event again sends it under the same id; the day handlers are idempotent by
    # their facts (handlers.py), so neither keeps a seen id per event (the public topic's ids
    # are still guarded against reuse with other content)
    runtime.consume(CARE_DAYS, processor=forward, idempotent=True)
    runtime.consume(BILLING_DAYS, processor=days, idempotent=True)
    runtime.consume(COMMANDS, BILLING_DRAFTS, processor=books)
