"""Diary domain: documents, numbers, the registration year and the masked public entry."""

from __future__ import annotations

from datetime import UTC, datetime

from services.diary.domain import (
    OSL_REF,
    PRIVATE_SENDER,
    diary_number,
    document_of,
    last_number,
    next_number,
    public_entry,
    registration_year,
)

from .factories import SECRET, UNIT, case_opened, letter_in, letter_out

AT = datetime(2023, 6, 1, 12, tzinfo=UTC)


def test_every_complaint_is_confidential_with_a_neutral_subject_and_the_masked_complainant_as_sender():
    doc = document_of(case_opened())
    entry = public_entry(doc, "PN 2023/1", AT)
    assert (doc.kind, doc.direction, doc.confidential) == ("complaint", "in", True)
    # the sender of a complaint is the complainant, masked (25 kap. 1 § OSL), not the care provider
    assert (entry.subject, entry.confidentiality_ref, entry.counterpart) == (
        "Klagomål avseende vård", OSL_REF, PRIVATE_SENDER)
    assert "Region Dalarna" not in entry.model_dump_json()
    no_unit = document_of(case_opened(care_unit_hsa_id=None, care_unit_status="none", care_provider=None))
    assert no_unit.counterpart == PRIVATE_SENDER


def test_letters_with_patient_data_are_masked_both_ways_and_others_keep_their_subject():
    out, inn = document_of(letter_out()), document_of(letter_in())
    assert public_entry(out, "PN 2023/2", AT).subject == "Skrivelse till vårdgivare"
    assert public_entry(inn, "PN 2023/3", AT).subject == "Skrivelse från vårdgivare"
    assert SECRET not in public_entry(out, "PN 2023/2", AT).model_dump_json()
    plain = public_entry(document_of(letter_out(confidential=False, subject="Begäran om yttrande")), "PN 2023/4", AT)
    assert (plain.subject, plain.confidential, plain.confidentiality_ref) == ("Begäran om yttrande", False, None)
    assert (out.counterpart, out.document_id, out.key) == (UNIT, "L1", "out-letter:L1")


def test_the_same_letter_id_in_and_out_are_two_documents():
    assert document_of(letter_out("X")).key != document_of(letter_in("X")).key


def test_registration_year_is_the_swedish_year():
    assert registration_year(datetime(2023, 12, 31, 22, 59, tzinfo=UTC), "Europe/Stockholm") == 2023
    assert registration_year(datetime(2023, 12, 31, 23, 0, tzinfo=UTC), "Europe/Stockholm") == 2024
    assert diary_number("PN", 2024, 1) == "PN 2024/1"


def test_next_number_skips_numbers_held_by_other_documents_but_reuses_its_own():
    held = {3: "a", 4: "b"}
    assert next_number(2, held.get, "c") == 5
    assert next_number(2, held.get, "a") == 3
    assert next_number(0, {}.get, "a") == 1


def test_last_number_finds_the_highest_held_number_from_a_hint_it_checks():
    held = {n: f"d{n}" for n in range(1, 1001)}
    reads = []

    def holder(n):
        reads.append(n)
        return held.get(n)

    assert last_number(0, holder) == 1000
    assert len(reads) < 30  # galloping + bisection, not 1,000 reads
    assert last_number(700, holder) == 1000
    assert last_number(5000, holder) == 1000  # a hint past the end is not trusted
    assert last_number(0, {}.get) == 0
    assert last_number(3, {}.get) == 0
