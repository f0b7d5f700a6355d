"""Every key the diary writes or reads, named once: document keys, and the keys of its three stores.

The strings are part of the stored state (tables, changelogs, the record): never change one; a new
layout is a new function beside the old, read on as `legacy_seq` is.

Document keys name a document across the service: the queue's Kafka key, the cause of its event
ids, and the part after `doc|` in the registry. An incoming and an outgoing letter with the same
letter id are two documents, so the direction is part of the key.

`registry` (1 partition, written by stage 2 only):
  `number|<year>|<n>` → document key · `doc|<document key>` → entry · `case|<case_id>` → letter keys
  · `seq|<year>` (earlier versions' counter, read only).
`care-units` (4 partitions, like `pn.reference.care-units`): `<hsa_id>` → unit.
`waiting-letters` (4 partitions): `<hsa_id>|<letter_id>` → letter awaiting its unit, as earlier versions
  kept it (on the partition of its entry); drained, no longer written.
`dispatch` (4 partitions, like `pn.diary.dispatch`, keyed by recipient): `unit|<hsa_id>` → unit ·
  `waiting|<hsa_id>|<letter_id>` → letter awaiting its unit.
"""

from __future__ import annotations


# -- document keys ---------------------------------------------------------------------------------------
def complaint(case_id: str) -> str:
    """A complaint's document key: one complaint per case, so the case id names it."""
    return f"complaint:{case_id}"


def incoming_letter(letter_id: str) -> str:
    """An incoming letter's document key: keyed by letter id and direction (ids may repeat across directions)."""
    return f"in-letter:{letter_id}"


def outgoing_letter(letter_id: str) -> str:
    """An outgoing letter's document key: keyed by letter id and direction (ids may repeat across directions)."""
    return f"out-letter:{letter_id}"


# -- registry store ----------------------------------------------------------------------------------------
def number(year: int, n: int | str) -> str:
    """registry: which document holds diary number n of `year`; keyed by the number so that
    `last_number` finds a year's last by reads and a replay never hands a number out twice."""
    return f"number|{year}|{n}"


def doc(document_key: str) -> str:
    """registry: a registered document's entry and original subject; keyed by the document so it
    is the queue's dedup fact (a document seen again is registered already)."""
    return f"doc|{document_key}"


def case_letters(case_id: str) -> str:
    """registry: the document keys of a case's letters (its complaint is `doc(complaint(case_id))`);
    keyed by case so the case view reads one key."""
    return f"case|{case_id}"


def legacy_seq(year: int) -> str:
    """registry: the last number of `year` as earlier versions counted it; no longer written, only
    read as a hint for `last_number` (it is checked, not trusted)."""
    return f"seq|{year}"


# -- care-units store --------------------------------------------------------------------------------------
def care_unit(hsa_id: str) -> str:
    """care-units: a care unit's name and registry address; keyed by its HSA-id, the id letters name."""
    return hsa_id


# -- waiting-letters store ---------------------------------------------------------------------------------
def waiting_letter(hsa_id: str, letter_id: str) -> str:
    """waiting-letters: a registered letter whose recipient is not yet in the directory; keyed by
    recipient first so the unit's arrival finds all its letters by one prefix scan."""
    return f"{waiting_for(hsa_id)}{letter_id}"


def waiting_for(hsa_id: str) -> str:
    """waiting-letters: the prefix that `items_with_prefix` scans for every letter waiting for `hsa_id`."""
    return f"{hsa_id}|"


# -- dispatch store ----------------------------------------------------------------------------------------
def recipient(hsa_id: str) -> str:
    """dispatch: a recipient unit's name and registry address, keyed by its HSA-id on the
    recipient's partition of `pn.diary.dispatch`, where its letters arrive too."""
    return f"unit|{hsa_id}"


def waiting_dispatch(hsa_id: str, letter_id: str) -> str:
    """dispatch: a registered letter whose recipient is not yet known on its partition; keyed by
    recipient first so the unit's arrival finds all its letters by one prefix scan."""
    return f"{waiting_dispatch_for(hsa_id)}{letter_id}"


def waiting_dispatch_for(hsa_id: str) -> str:
    """dispatch: the prefix that `items_with_prefix` scans for every letter waiting for `hsa_id`."""
    return f"waiting|{hsa_id}|"
