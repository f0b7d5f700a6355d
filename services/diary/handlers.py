"""Diary handlers: event in → domain decision → events out. The shared Processor does the rest.

Two processors, two handler maps, because a document flows through two stages:
- INTAKE_HANDLERS (4-partition inputs): stage 1 takes each document in and forwards it to the
  one-partition `pn.diary.queue` with an id derived from the document, so the same document twice
  is one queue event. The forward's time is the registration time, fixed on the queue from then
  on; arrival → registration over the threshold raises `diary.registration_lag`. The same
  processor dispatches outgoing letters from the diary's own `pn.diary.entries` (so a dispatch can
  only follow a published registration) and keeps the HSA directory.
- QUEUE_HANDLERS (`pn.diary.queue`, one partition): stage 2 numbers the document. One partition
  means a replay after a crash meets the documents in the same order with the same times and
  reaches the same numbers.

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
`directory` (hsa_id → unit) and `waiting` (`<hsa_id>|<letter_id>` → letter awaiting its unit)
have 4 partitions like the topics that write them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.contract.events import AlertMessage, AlertRaised, LetterDispatched
from shared.contract.topics import ALERTS_OPS, DIARY_ENTRIES, DIARY_QUEUE, LETTERS_DISPATCHED
from shared.service.ports import Clock, Emit
from shared.service.state import Store

from .domain import (
    diary_number,
    document_of,
    lag_seconds,
    last_number,
    next_number,
    public_entry,
    registration_year,
)
from .settings import Settings

LAG_RULE = "diary.registration_lag"
UNKNOWN_RECIPIENT_RULE = "diary.unknown_recipient"


@dataclass
class Deps:
    registry: Store
    directory: Store
    waiting: Store
    settings: Settings
    clock: Clock
    log: Any
    emit: Any = None  # the Processor's Emitter, set by create_app
    last_numbers: dict[int, int] = field(default_factory=dict)
    """year → the last number this process handed out: a cache of the registry, checked on use."""


# -- stage 1: take the document in ---------------------------------------------------------------------
def on_document(event: Any, *, deps: Deps) -> list[Emit]:
    doc = document_of(event.data)
    at = _document_time(event) if deps.settings.diary_backfill else None
    queued = deps.emit(DIARY_QUEUE, event.data, key=doc.key, cause=["queued", doc.key], subject=doc.case_id,
                       time=at)
    outputs = [queued]
    lag = lag_seconds(event.time, queued.event.time)
    if lag > deps.settings.diary_registration_lag_seconds:
        alert_id = f"{LAG_RULE}:{doc.key}"
        limit = deps.settings.diary_registration_lag_seconds
        data = AlertRaised(
            alert_id=alert_id, rule_id=LAG_RULE, severity="warning", subject=doc.case_id,
            message=AlertMessage(
                sv=f"En handling i ärende {doc.case_id} registrerades {lag:.0f} s efter ankomst (gräns {limit:.0f} s).",
                en=f"A document of case {doc.case_id} was registered {lag:.0f} s after arrival (limit {limit:.0f} s)."),
            facts={"document": doc.key, "case_id": doc.case_id, "lag_seconds": round(lag, 3), "limit_seconds": limit},
            raised_at=queued.event.time)
        outputs.append(deps.emit(ALERTS_OPS, data, key=alert_id, cause=[doc.key, LAG_RULE]))
        deps.log.warning("registration_lag", document=doc.key, lag_seconds=round(lag, 3))
    return outputs


def _document_time(event: Any) -> Any:
    """A document's own time in backfill mode: when its case was opened, else its event time."""
    return getattr(event.data, "opened_at", None) or event.time


# -- stage 2: number it ----------------------------------------------------------------------------------
def on_queued(event: Any, *, deps: Deps) -> list[Emit]:
    doc, registry = document_of(event.data), deps.registry
    if f"doc|{doc.key}" in registry:  # registered: its entry was acknowledged before this was written
        return []
    registered_at = event.time  # fixed when stage 1 queued it: a replay decides the same year
    year = registration_year(registered_at, deps.settings.diary_timezone)
    n = _number_for(registry, year, doc.key, deps.last_numbers)
    number = diary_number(deps.settings.diary_prefix, year, n)
    entry = public_entry(doc, number, registered_at)
    outputs = [deps.emit(DIARY_ENTRIES, entry, key=number, cause=[doc.key], subject=doc.case_id)]
    registry[f"number|{year}|{n}"] = doc.key
    registry[f"doc|{doc.key}"] = {**entry.model_dump(mode="json", exclude_none=True), "original_subject": doc.subject}
    if doc.kind != "complaint":  # a complaint is found by its case id (web.case_entries)
        letters = registry.get(f"case|{doc.case_id}", [])
        if doc.key not in letters:
            registry[f"case|{doc.case_id}"] = [*letters, doc.key]
    deps.last_numbers[year] = n
    deps.log.debug("registered", diary_number=number, document=doc.key, case_id=doc.case_id)
    return outputs


def _number_for(registry: Store, year: int, key: str, last_numbers: dict[int, int]) -> int:
    """The document's number: the one it holds already (a crash kept its `number|` write, not its
    entry), else the next free one. The cached last number is used only while the registry still
    holds it (a rolled-back batch's numbers are gone); else it is looked up from the store."""
    def holder(k: int) -> str | None:
        return registry.get(f"number|{year}|{k}")

    last = last_numbers.get(year)
    held = holder(last) if last else None
    if last is None or (last and held is None):
        last = last_number(registry.get(f"seq|{year}", 0), holder)  # seq|: written by earlier versions
        held = holder(last) if last else None
    return last if held == key else next_number(last, holder, key)


# -- dispatch: after the registration is published ---------------------------------------------------------
def on_registered(event: Any, *, deps: Deps) -> list[Emit]:
    entry = event.data
    if entry.direction != "out" or entry.document_kind != "letter" or entry.document_id is None:
        return []
    letter = {"letter_id": entry.document_id, "diary_number": entry.diary_number, "case_id": entry.case_id}
    if deps.settings.diary_backfill:  # an imported letter went out when it was registered
        letter["registered_at"] = entry.registered_at.isoformat()
    hsa_id = entry.counterpart
    unit = deps.directory.get(hsa_id)
    if unit is not None:
        return [_dispatch(letter, hsa_id, unit, deps)]
    deps.waiting[f"{hsa_id}|{entry.document_id}"] = letter
    alert_id = f"{UNKNOWN_RECIPIENT_RULE}:{entry.document_id}"
    data = AlertRaised(
        alert_id=alert_id, rule_id=UNKNOWN_RECIPIENT_RULE, severity="warning", subject=entry.case_id,
        message=AlertMessage(
            sv=f"Skrivelse {entry.diary_number} är registrerad men mottagaren {hsa_id} finns inte i HSA-katalogen; "
               "den skickas när enheten finns.",
            en=f"Letter {entry.diary_number} is registered but its recipient {hsa_id} is not in the HSA directory; "
               "it is sent once the unit appears."),
        facts={"letter_id": entry.document_id, "diary_number": entry.diary_number, "recipient_hsa_id": hsa_id,
               "case_id": entry.case_id},
        raised_at=deps.clock.now())
    deps.log.warning("letter_waiting_for_recipient", letter_id=entry.document_id, recipient_hsa_id=hsa_id)
    return [deps.emit(ALERTS_OPS, data, key=alert_id, cause=[entry.document_id, UNKNOWN_RECIPIENT_RULE])]


def on_care_unit(event: Any, *, deps: Deps) -> list[Emit]:
    unit = event.data
    deps.directory[unit.hsa_id] = {"name": unit.name, "registry_address": unit.registry_address}
    outputs = []
    for key, letter in list(deps.waiting.items_with_prefix(f"{unit.hsa_id}|")):
        outputs.append(_dispatch(letter, unit.hsa_id, deps.directory[unit.hsa_id], deps))
        del deps.waiting[key]
    return outputs


def _dispatch(letter: dict[str, str], hsa_id: str, unit: dict[str, str], deps: Deps) -> Emit:
    """The dispatch id comes from the letter alone: a re-dispatch is recognisably the same."""
    backfilled = letter.get("registered_at")
    data = LetterDispatched(
        letter_id=letter["letter_id"], diary_number=letter["diary_number"],
        registry_address=unit["registry_address"],
        dispatched_at=datetime.fromisoformat(backfilled) if backfilled else deps.clock.now(),
        recipient_hsa_id=hsa_id, case_id=letter["case_id"])
    deps.log.debug("letter_dispatched", letter_id=letter["letter_id"], diary_number=letter["diary_number"])
    return deps.emit(LETTERS_DISPATCHED, data, key=hsa_id, cause=[letter["letter_id"]], subject=letter["case_id"])


INTAKE_HANDLERS = {
    "pn.case.opened": on_document,
    "pn.letter.received": on_document,
    "pn.letter.created": on_document,
    "pn.diary.registered": on_registered,
    "pn.care_unit.upserted": on_care_unit,
}
QUEUE_HANDLERS = {
    "pn.case.opened": on_queued,
    "pn.letter.received": on_queued,
    "pn.letter.created": on_queued,
}
