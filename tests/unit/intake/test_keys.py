"""The store keys are the stored layout: these strings must never change (tables, changelogs)."""

from __future__ import annotations

from services.intake import keys


def test_the_cases_store_keys_are_the_stored_layout():
    assert keys.case("PN-2023-00001") == "case|PN-2023-00001"
    assert keys.complaint("c1") == "complaint|c1"
    assert keys.sequence(2024) == "seq|2024"
    assert keys.spike_tally("SE2321000180-1001", "vard.diagnos") == "spike|SE2321000180-1001|vard.diagnos"
    assert keys.legacy_contact("PN-2022-00007") == "contact|PN-2022-00007"
    assert keys.OPEN_SPIKES == "spike-open"
    assert keys.open_spike("SE2321000180-1001", "vard.diagnos") == "SE2321000180-1001|vard.diagnos"


def test_every_prefix_is_the_start_of_its_keys():
    assert keys.case("x").startswith(keys.CASE) and keys.complaint("x").startswith(keys.COMPLAINT)
    assert keys.sequence(1).startswith(keys.SEQUENCE) and keys.spike_tally("u", "c").startswith(keys.SPIKE)
    assert keys.legacy_contact("x").startswith(keys.LEGACY_CONTACT)


def test_an_open_spike_key_splits_back_into_unit_and_category():
    key = keys.open_spike("SE2321000180-1001", "kommunikation.bemotande")
    assert keys.unit_and_category(key) == ("SE2321000180-1001", "kommunikation.bemotande")
    unit, code = keys.unit_and_category(key)
    assert keys.spike_tally(unit, code) == keys.SPIKE + key


def test_the_other_stores_keys():
    assert keys.reference("1177", "ref-1") == "1177|ref-1"
    assert keys.care_unit("SE2321000180-1001") == "SE2321000180-1001"
    assert keys.resolved_alert("intake.complaint_spike:u:c:PN-2023-00001") == "intake.complaint_spike:u:c:PN-2023-00001"


def test_the_directory_beside_the_cases():
    assert keys.unit("SE2321000180-1001") == "unit|SE2321000180-1001"
    assert keys.unit("x").startswith(keys.UNIT)
