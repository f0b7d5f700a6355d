"""The fees stores' keys are stored in tables and changelogs: their strings never change."""

from __future__ import annotations

from datetime import date

from services.fees import keys


def test_every_key_keeps_its_stored_string():
    assert keys.assignment("a1") == "a|a1"
    assert keys.care_ended("a1") == "c|a1"
    assert keys.ended("a1") == "e|a1"
    assert keys.visit("v1") == "v|v1"
    assert keys.conflict("v1", "0123abcd") == "r|v1|0123abcd"
    assert keys.held("a1", "v1") == "h|a1|v1"
    assert keys.held_index("a1") == "H|a1"
    assert keys.week("a1", "2020-W53") == "w|a1|2020-W53"
    assert keys.lost_income_day("sp1", date(2023, 3, 1)) == "l|sp1|2023-03-01"
    assert keys.fee("fee-1") == "f|fee-1"
    assert keys.closed("2023-03") == "closed|2023-03"
    assert keys.issued("draft-1") == "issued|draft-1"


def test_scanned_prefixes_and_parsers_match_the_keys():
    assert (keys.HELD, keys.FEES, keys.ISSUED) == ("h|", "f|", "issued|")
    assert keys.held("a1", "v1").startswith(keys.HELD) and keys.issued("d").startswith(keys.ISSUED)
    assert keys.fee_id(keys.fee("fee|with|bars")) == "fee|with|bars"
    assert not keys.held_index("a1").startswith(keys.HELD)  # the index is not swept as a held visit
