"""Diary handlers: event in → domain decision → events out. The shared Processor does the rest.

Three processors, three handler maps, because a document flows through two stages and a letter
on to dispatch:
- INTAKE_HANDLERS (4-partition inputs): stage 1 takes each document in and forwards it to the
  one-partition `pn.diary.queue` with an id derived from the document, so the same document twice
  is one queue event. The forward's time is the registration time, fixed on the queue from then
  on; arrival → registration over the threshold raises `diary.registration_lag`. The same
  processor forwards outgoing letters from the diary's own `pn.diary.entries` (so a dispatch can
  only follow a published registration) and the directory's units to `pn.diary.dispatch`, keyed
  by recipient, and keeps the HSA directory (a global store).
- QUEUE_HANDLERS (`pn.diary.queue`, one partition): stage 2 numbers the document. One partition
  means a replay after a crash meets the documents in the same order with the same times and
  reaches the same numbers.
- DISPATCH_HANDLERS (`pn.diary.dispatch`, 4 partitions keyed by recipient HSA-id): a letter goes
  out to its unit, or waits on the unit's partition until the unit comes by there (issue 27).

Each handler reads facts from the stores, asks domain.py for the decision, writes facts and returns
what to emit. Store keys are built only by keys.py.

`registry` store (1 partition, written by stage 2 only; keys by cause, see shared/service/state.py):
`number|<year>|<n>` → document key, `doc|<key>` the entry plus its original subject, and for a
letter `case|<case_id>` → the case's letter keys (a complaint is its case's `doc|complaint:<id>`,
so it is not listed; lists written before this rule also hold it). Written in that order, so a
crash that keeps only a prefix of the writes can never hand a number out twice (next_number
skips numbers already held). Nothing else: the last number of a year is the highest
`number|<year>|<n>` (found by `last_number`, then cached in memory and checked on each use), so
the `seq|<year>` counter of earlier versions is no longer written, only read as a hint; and the
queue needs no dedup store, `doc|<key>` is its dedup fact (agents.py consumes it idempotent).
Two keys per complaint, three per letter (its case's list grows).
`directory` (hsa_id → unit) is a global store: every worker holds all of it. `dispatch`
(`unit|<hsa_id>`, `waiting|<hsa_id>|<letter_id>`) has the partitions of `pn.diary.dispatch`.
`waiting` (`<hsa_id>|<letter_id>`) is the letters earlier versions left waiting: drained, not written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.contract.topics import (
    ALERTS_OPS,
    DIARY_DISPATCH,
    DIARY_ENTRIES,
    DIARY_QUEUE,
    LETTERS_DISPATCHED,
)
from shared.service.ports import Clock, Emit
from shared.service.state import Store

from . import keys
from .domain import (
    LAG_RULE,
    UNKNOWN_RECIPIENT_RULE,
    diary_number,
    dispatch,
    document_of,
    is_dispatched,
    letter_to_dispatch,
    listed_under_case,
    number_for,
    own_time,
    public_entry,
    registration_lag_alert,
    registration_year,
    unit_record,
    unknown_recipient_alert,
)
from .settings import Settings


@dataclass
class Deps:
    registry: Store
    directory: Store
    waiting: Store
    dispatch: Store
    settings: Settings
    clock: Clock
    log: Any
    emit: Any = None  # the Processor's Emitter, set by create_app
    last_numbers: dict[int, int] = field(default_factory=dict)
    """year → the last number this process handed out: a cache of the registry, checked on use."""


# -- stage 1: take the document in ---------------------------------------------------------------------
def on_document(event: Any, *, deps: Deps) -> list[Emit]:
    doc = document_of(event.data)
    at = own_time(event.data, event.time) if deps.settings.diary_backfill else None
    queued = deps.emit(DIARY_QUEUE, event.data, key=doc.key, cause=["queued", doc.key], subject=doc.case_id,
                       time=at)
    outputs = [queued]
    alert = registration_lag_alert(doc, event.time, queued.event.time, deps.settings.diary_registration_lag_seconds)
    if alert is not None:
        outputs.append(deps.emit(ALERTS_OPS, alert, key=alert.alert_id, cause=[doc.key, LAG_RULE]))
        deps.log.warning("registration_lag", document=doc.key, lag_seconds=alert.facts["lag_seconds"])
    return outputs


# -- stage 2: number it ----------------------------------------------------------------------------------
def on_queued(event: Any, *, deps: Deps) -> list[Emit]:
    doc, registry = document_of(event.data), deps.registry
    if keys.doc(doc.key) in registry:  # registered: its entry was acknowledged before this was written
        return []
    registered_at = event.time  # fixed when stage 1 queued it: a replay decides the same year
    year = registration_year(registered_at, deps.settings.diary_timezone)

    def holder(k: int) -> str | None:
        return registry.get(keys.number(year, k))

    n = number_for(doc.key, holder, deps.last_numbers.get(year),
                   hint=lambda: registry.get(keys.legacy_seq(year), 0))  # seq|: written by earlier versions
    number = diary_number(deps.settings.diary_prefix, year, n)
    entry = public_entry(doc, number, registered_at)
    outputs = [deps.emit(DIARY_ENTRIES, entry, key=number, cause=[doc.key], subject=doc.case_id)]
    registry[keys.number(year, n)] = doc.key
    registry[keys.doc(doc.key)] = {**entry.model_dump(mode="json", exclude_none=True), "original_subject": doc.subject}
    if listed_under_case(doc):
        letters = registry.get(keys.case_letters(doc.case_id), [])
        if doc.key not in letters:  # a replay lists it once
            registry[keys.case_letters(doc.case_id)] = [*letters, doc.key]
    deps.last_numbers[year] = n
    deps.log.debug("registered", diary_number=number, document=doc.key, case_id=doc.case_id)
    return outputs


# -- dispatch: after the registration is published ---------------------------------------------------------
def forward_registered(event: Any, *, deps: Deps) -> list[Emit]:
    """A registered outgoing letter goes on, unchanged, to `pn.diary.dispatch` keyed by its
    recipient: there it meets the recipient's unit on one partition, whichever worker holds it."""
    entry = event.data
    if not is_dispatched(entry):
        return []
    return [Emit(DIARY_DISPATCH, entry.counterpart, event)]


def on_care_unit(event: Any, *, deps: Deps) -> list[Emit]:
    """The unit into the directory (names in the register's views), on to `pn.diary.dispatch` keyed
    by its HSA-id, and the letters earlier versions left waiting for it (`waiting-letters`) sent."""
    unit = event.data
    deps.directory[keys.care_unit(unit.hsa_id)] = unit_record(unit)
    outputs = [Emit(DIARY_DISPATCH, unit.hsa_id, event)]
    for key, letter in list(deps.waiting.items_with_prefix(keys.waiting_for(unit.hsa_id))):
        outputs.append(_dispatch(letter, unit.hsa_id, unit_record(unit), deps))
        del deps.waiting[key]
    return outputs


def on_letter(event: Any, *, deps: Deps) -> list[Emit]:
    """Dispatch (`pn.diary.dispatch`, partitioned by recipient): a registered letter goes out to its
    unit, or waits for it under the recipient's partition."""
    entry = event.data
    letter = letter_to_dispatch(entry, deps.settings.diary_backfill)
    hsa_id = entry.counterpart
    unit = recipient_of(hsa_id, deps)
    if unit is not None:
        return [_dispatch(letter, hsa_id, unit, deps)]
    deps.dispatch[keys.waiting_dispatch(hsa_id, entry.document_id)] = letter
    alert = unknown_recipient_alert(entry, deps.clock.now())
    deps.log.warning("letter_waiting_for_recipient", letter_id=entry.document_id, recipient_hsa_id=hsa_id)
    return [deps.emit(ALERTS_OPS, alert, key=alert.alert_id, cause=[entry.document_id, UNKNOWN_RECIPIENT_RULE])]


def on_recipient(event: Any, *, deps: Deps) -> list[Emit]:
    """Dispatch: a unit on the recipient's partition; the letters waiting for it go out now."""
    unit = event.data
    record = unit_record(unit)
    deps.dispatch[keys.recipient(unit.hsa_id)] = record
    outputs = []
    for key, letter in list(deps.dispatch.items_with_prefix(keys.waiting_dispatch_for(unit.hsa_id))):
        outputs.append(_dispatch(letter, unit.hsa_id, record, deps))
        del deps.dispatch[key]
    return outputs


def recipient_of(hsa_id: str, deps: Deps) -> dict[str, Any] | None:
    """The unit as dispatch's partition last saw it; else as the directory store has it (earlier
    versions' state, complete while one worker held every partition: the state an upgrade starts from)."""
    return deps.dispatch.get(keys.recipient(hsa_id)) or deps.directory.get(keys.care_unit(hsa_id))


def _dispatch(letter: dict[str, Any], hsa_id: str, unit: dict[str, Any], deps: Deps) -> Emit:
    """The dispatch id comes from the letter alone: a re-dispatch is recognisably the same."""
    data = dispatch(letter, hsa_id, unit, deps.clock.now())
    deps.log.debug("letter_dispatched", letter_id=letter["letter_id"], diary_number=letter["diary_number"])
    return deps.emit(LETTERS_DISPATCHED, data, key=hsa_id, cause=[letter["letter_id"]], subject=letter["case_id"])


INTAKE_HANDLERS = {
    "pn.case.opened": on_document,
    "pn.letter.received": on_document,
    "pn.letter.created": on_document,
    "pn.diary.registered": forward_registered,
    "pn.care_unit.upserted": on_care_unit,
}
DISPATCH_HANDLERS = {
    "pn.diary.registered": on_letter,
    "pn.care_unit.upserted": on_recipient,
}
QUEUE_HANDLERS = {
    "pn.case.opened": on_queued,
    "pn.letter.received": on_queued,
    "pn.letter.created": on_queued,
}
