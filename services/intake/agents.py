"""Which topics feed which processor: stage 1 + reference data + diary entries + ticks (4 partitions,
forwarded to stage 2 as far as they concern cases), stage 2 (1: the complaints and the case updates)."""

from __future__ import annotations

from shared.contract.topics import (
    CARE_UNITS,
    COMPLAINTS_SUBMITTED,
    DIARY_ENTRIES,
    INTAKE_ACCEPTED,
    TICKS,
)
from shared.service.processor import Processor
from shared.service.wiring import Wiring


def register(runtime: Wiring, *, intake: Processor, cases: Processor) -> None:
    runtime.consume(COMPLAINTS_SUBMITTED, CARE_UNITS, DIARY_ENTRIES, TICKS, processor=intake)
    # idempotent: `complaint|<event id>` in `cases` is stage 2's dedup fact (a redelivered complaint
    # finds it and emits nothing), so no seen-id write per case; a redelivered unit writes the same
    # value, a tick finds its resolutions done, a letter's notification has the id it had
    runtime.consume(INTAKE_ACCEPTED, processor=cases, idempotent=True)
