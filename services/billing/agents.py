"""Which topics feed which processor: care days (4 partitions); commands and drafts (1 partition)."""

from __future__ import annotations

from shared.contract.topics import BILLING_DRAFTS, CARE_DAYS, COMMANDS
from shared.service.processor import Processor
from shared.service.wiring import Wiring


def register(runtime: Wiring, *, days: Processor, books: Processor) -> None:
    runtime.consume(CARE_DAYS, processor=days, idempotent=True)  # handlers.py: idempotent by their facts
    runtime.consume(COMMANDS, BILLING_DRAFTS, processor=books)
