"""Diary domain: documents, numbers, the registration year and the masked public entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.diary.domain import (
    LAG_RULE,
    OSL_REF,
    PRIVATE_SENDER,
    UNKNOWN_RECIPIENT_RULE,
    diary_number,
    dispatch,
    document_of,
    is_dispatched,
    last_number,
    letter_to_dispatch,
    listed_under_case,
    next_number,
    number_for,
    number_order,
    own_time,
    public_entry,
    registration_lag_alert,
    registration_year,
    unit_record,
    unknown_recipient_alert,
)

from .factories import SECRET, UNIT, care_unit, case_opened, letter_in, letter_out

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


def test_backfill_registers_a_complaint_when_its_case_was_opened_and_a_letter_at_its_event_time():
    event_time = datetime(2026, 11, 25, 9, tzinfo=UTC)
    assert own_time(case_opened(), event_time) == datetime(2023, 6, 1, 12, tzinfo=UTC)
    assert own_time(letter_in(), event_time) == event_time
    assert own_time(letter_out(), event_time) == event_time


def test_number_order_sorts_by_year_then_number_not_as_text():
    assert number_order("PN 2023/10") == (2023, 10)
    assert number_order("PN X 2024/2") == (2024, 2)  # a prefix may hold a space
    numbers = ["PN 2024/1", "PN 2023/10", "PN 2023/9"]
    assert sorted(numbers, key=number_order) == ["PN 2023/9", "PN 2023/10", "PN 2024/1"]
    assert number_order(diary_number("PNX", 2025, 7)) == (2025, 7)


def test_number_for_trusts_the_cached_last_number_only_while_it_is_held():
    held = {1: "a", 2: "b"}

    def no_hint() -> int:
        raise AssertionError("the hint is read only when the cache cannot be used")

    assert number_for("c", held.get, 2, no_hint) == 3  # cache held: the next number
    assert number_for("b", held.get, 2, no_hint) == 2  # the document holds the last number: its own
    assert number_for("c", held.get, 5, lambda: 0) == 3  # 5 rolled back: looked up again
    assert number_for("c", held.get, None, lambda: 0) == 3  # no cache (a restart): looked up
    assert number_for("a", {}.get, None, lambda: 0) == 1  # the year's first
    assert number_for("x", {1: "a", 2: "b", 3: "x"}.get, None, lambda: 1) == 3  # a crash kept its number


def test_only_letters_are_listed_under_their_case():
    assert listed_under_case(document_of(letter_in())) and listed_under_case(document_of(letter_out()))
    assert not listed_under_case(document_of(case_opened()))


def test_the_lag_alert_is_raised_only_over_the_limit_and_names_no_subject():
    doc, arrived = document_of(letter_in("R2")), datetime(2023, 6, 1, 11, 58, tzinfo=UTC)
    assert registration_lag_alert(doc, arrived, arrived + timedelta(seconds=60), 60) is None  # at the limit
    assert registration_lag_alert(doc, arrived, arrived - timedelta(seconds=5), 60) is None  # clock skew
    alert = registration_lag_alert(doc, arrived, AT, 60)
    assert alert is not None
    assert (alert.alert_id, alert.rule_id, alert.severity, alert.subject, alert.raised_at) == (
        f"{LAG_RULE}:in-letter:R2", "diary.registration_lag", "warning", "PN-2023-00001", AT)
    assert alert.facts == {"document": "in-letter:R2", "case_id": "PN-2023-00001", "lag_seconds": 120.0,
                           "limit_seconds": 60}
    assert "120 s" in alert.message.sv and "limit 60 s" in alert.message.en
    assert SECRET not in alert.model_dump_json()
    almost = registration_lag_alert(doc, arrived, arrived + timedelta(seconds=60.0004), 60)
    assert almost is not None and almost.facts["lag_seconds"] == 60.0


def test_only_registered_outgoing_letters_are_dispatched():
    assert is_dispatched(public_entry(document_of(letter_out()), "PN 2023/1", AT))
    assert not is_dispatched(public_entry(document_of(letter_in()), "PN 2023/2", AT))
    assert not is_dispatched(public_entry(document_of(case_opened()), "PN 2023/3", AT))
    no_id = public_entry(document_of(letter_out()), "PN 2023/4", AT).model_copy(update={"document_id": None})
    assert not is_dispatched(no_id)


def test_a_letter_goes_out_now_or_when_it_was_registered_if_backfilled():
    entry = public_entry(document_of(letter_out("L1", "C1")), "PN 2023/5", AT)
    now = datetime(2026, 11, 25, 9, tzinfo=UTC)
    unit = unit_record(care_unit())
    assert unit == {"name": "Vårdcentral Falun", "registry_address": "Region Dalarna, Registratur, 791 29 Falun"}
    live = letter_to_dispatch(entry, backfill=False)
    assert live == {"letter_id": "L1", "diary_number": "PN 2023/5", "case_id": "C1"}
    sent = dispatch(live, UNIT, unit, now)
    assert (sent.letter_id, sent.diary_number, sent.case_id, sent.recipient_hsa_id, sent.dispatched_at) == (
        "L1", "PN 2023/5", "C1", UNIT, now)
    assert sent.registry_address == unit["registry_address"]
    backfilled = letter_to_dispatch(entry, backfill=True)
    assert backfilled["registered_at"] == AT.isoformat()
    assert dispatch(backfilled, UNIT, unit, now).dispatched_at == AT
    assert SECRET not in sent.model_dump_json()


def test_the_unknown_recipient_alert_names_the_letter_and_the_missing_unit():
    entry = public_entry(document_of(letter_out("L1", "C1")), "PN 2023/5", AT)
    alert = unknown_recipient_alert(entry, AT)
    assert (alert.alert_id, alert.rule_id, alert.severity, alert.subject, alert.raised_at) == (
        f"{UNKNOWN_RECIPIENT_RULE}:L1", "diary.unknown_recipient", "warning", "C1", AT)
    assert alert.facts == {"letter_id": "L1", "diary_number": "PN 2023/5", "recipient_hsa_id": UNIT,
                           "case_id": "C1"}
    assert "PN 2023/5" in alert.message.sv and UNIT in alert.message.en
    assert SECRET not in alert.model_dump_json()
