"""Every key intake writes or reads in its stores, named once.

The strings are the stored layout: the changelog topics and the committed tables depend on them
byte for byte, so a change here is a migration, never a rename. Four stores (services/intake/app.py):
- `cases` (1 partition, like `pn.intake.accepted`, which also carries units, letters and ticks): the
  case records, the complaint → case mapping, the yearly counters, the spike tallies, the open spike alerts and the HSA
  directory's units (`unit|`): everything stage 2 reads, in its one partition;
- `complaint-refs` (4 partitions, like `pn.complaints.submitted`): upstream references;
- `care-units` (4 partitions): the HSA directory as earlier versions kept it; read only, as a fallback;
- `resolved-alerts` (4 partitions): spike alerts resolved by earlier versions' ticks; no longer read
  (a tick now removes the alert from `spike-open`).
Keys of one kind in a shared store carry a prefix (`case|`, `complaint|`, ...). The one key taken
apart again (`open_spike`) joins a directory HSA-id and a category code, neither of which can hold `|`.
"""

from __future__ import annotations

# -- the `cases` store ---------------------------------------------------------------------------
CASE = "case|"
"""Prefix of the case records (`case`)."""
COMPLAINT = "complaint|"
"""Prefix of the complaint → case id mappings (`complaint`)."""
SEQUENCE = "seq|"
"""Prefix of the yearly case counters (`sequence`)."""
SPIKE = "spike|"
"""Prefix of the spike tallies (`spike_tally`); tests scan it."""
LEGACY_CONTACT = "contact|"
"""Prefix of the contacts earlier versions kept apart (`legacy_contact`)."""
OPEN_SPIKES = "spike-open"
"""`cases`: the open spike alerts, `{open_spike(unit, code): {"alert_id", "raised_at"}}`, in one key
because stage 2 reads it for every counted case and the tick scans it whole."""


def case(case_id: str) -> str:
    """`cases`: the case record (the opened case without free text, and its `contact`), keyed by its
    number so views and diary entries find it by the id they carry."""
    return f"{CASE}{case_id}"


def complaint(event_id: str) -> str:
    """`cases`: the case id issued to a complaint, keyed by the complaint's event id (its cause) so a
    replay finds the number it was given and emits nothing (stage 2's dedup fact)."""
    return f"{COMPLAINT}{event_id}"


def sequence(year: int) -> str:
    """`cases`: the last case number issued in a year, keyed by the year because numbers restart
    every (Swedish) year."""
    return f"{SEQUENCE}{year}"


def spike_tally(unit: str, code: str) -> str:
    """`cases`: a (care unit, category) spike tally (complaints per day, last case counted), keyed by
    both because the signal is per unit and category."""
    return f"{SPIKE}{open_spike(unit, code)}"


UNIT = "unit|"
"""Prefix of the HSA directory's units as stage 2 keeps them (`unit`)."""


def unit(hsa_id: str) -> str:
    """`cases`: a unit of the HSA directory (name, care provider, region), keyed by its HSA-id, the
    id complaints name; beside the cases because stage 2 is the directory's only reader."""
    return f"{UNIT}{hsa_id}"


def legacy_contact(case_id: str) -> str:
    """`cases`: a case's contact as earlier versions kept it, beside the record; read only, for cases
    opened before the contact moved into the case record."""
    return f"{LEGACY_CONTACT}{case_id}"


def open_spike(unit: str, code: str) -> str:
    """The key of a (care unit, category) inside the `OPEN_SPIKES` value: one open alert per pair."""
    return f"{unit}|{code}"


def unit_and_category(open_spike_key: str) -> tuple[str, str]:
    """The (care unit HSA-id, category code) an `open_spike` key was made of."""
    unit, code = open_spike_key.split("|", 1)
    return unit, code


# -- the other stores ----------------------------------------------------------------------------
def reference(channel: str, external_ref: str) -> str:
    """`complaint-refs`: the first event id of an upstream reference, keyed by channel and the
    upstream's own reference (its idempotency key: the same ref from one channel is one complaint)."""
    return f"{channel}|{external_ref}"


def care_unit(hsa_id: str) -> str:
    """`care-units`: a unit of the HSA directory as earlier versions kept it (4 partitions), keyed by its
    HSA-id; read only, when `unit` has none (docs/intake.md "Scale out")."""
    return hsa_id


def resolved_alert(alert_id: str) -> str:
    """`resolved-alerts`: when earlier versions resolved a spike alert, keyed by the alert id; no longer
    written or read (a tick removes what it resolves from `OPEN_SPIKES`)."""
    return alert_id
