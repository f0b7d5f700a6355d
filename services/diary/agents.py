"""Which topics feed which processor: documents, own entries and the directory (4 partitions); the queue
(1); dispatch (4, keyed by recipient)."""

from __future__ import annotations

from shared.contract.topics import (
    CARE_UNITS,
    CASES_OPENED,
    DIARY_DISPATCH,
    DIARY_ENTRIES,
    DIARY_QUEUE,
    LETTERS_INCOMING,
    LETTERS_OUTGOING,
)
from shared.service.processor import Processor
from shared.service.wiring import Wiring


def register(runtime: Wiring, *, intake: Processor, numbering: Processor, dispatch: Processor) -> None:
    runtime.consume(CASES_OPENED, LETTERS_INCOMING, LETTERS_OUTGOING, DIARY_ENTRIES, CARE_UNITS, processor=intake)
    # idempotent: `doc|<document>` in the registry is the queue's dedup fact, no seen-id write per document
    runtime.consume(DIARY_QUEUE, processor=numbering, idempotent=True)
    # idempotent: a redelivered letter is dispatched (or left waiting) again under the ids it had; a
    # redelivered unit finds its letters sent (their waiting keys deleted with the dispatch)
    runtime.consume(DIARY_DISPATCH, processor=dispatch, idempotent=True)
