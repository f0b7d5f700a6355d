"""The diary's key strings are stored state (tables, changelogs, the record): they never change."""

from __future__ import annotations

from services.diary import keys


def test_document_keys_are_byte_identical_to_the_stored_ones():
    assert keys.complaint("PN-2023-00001") == "complaint:PN-2023-00001"
    assert keys.incoming_letter("X") == "in-letter:X"
    assert keys.outgoing_letter("X") == "out-letter:X"
    assert keys.incoming_letter("X") != keys.outgoing_letter("X")


def test_store_keys_are_byte_identical_to_the_stored_ones():
    assert keys.number(2023, 7) == "number|2023|7"
    assert keys.number(2023, "7") == "number|2023|7"  # a view's path parameter
    assert keys.doc(keys.complaint("C1")) == "doc|complaint:C1"
    assert keys.case_letters("C1") == "case|C1"
    assert keys.legacy_seq(2023) == "seq|2023"
    assert keys.care_unit("SE2321000180-1001") == "SE2321000180-1001"
    assert keys.waiting_letter("SE2321000180-1001", "L1") == "SE2321000180-1001|L1"


def test_a_units_prefix_finds_its_waiting_letters_and_no_other_units():
    prefix = keys.waiting_for("SE1")
    assert keys.waiting_letter("SE1", "L1").startswith(prefix)
    assert not keys.waiting_letter("SE12", "L1").startswith(prefix)


def test_the_dispatch_store_keys_are_the_stored_layout():
    assert keys.recipient("SE2321000180-1001") == "unit|SE2321000180-1001"
    assert keys.waiting_dispatch("SE2321000180-1001", "L1") == "waiting|SE2321000180-1001|L1"
    assert keys.waiting_dispatch("SE2321000180-1001", "L1").startswith(keys.waiting_dispatch_for("SE2321000180-1001"))
    assert not keys.waiting_dispatch("SE2321000180-10011", "L1").startswith(keys.waiting_dispatch_for("SE2321000180-1001"))
