"""Pure intake decisions: rejection reasons, case numbering, categories, contacts, the spike rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.domain import (
    AttachmentPolicy,
    care_unit_status,
    case_id_of,
    case_year,
    categorise,
    contact_of,
    count_case,
    for_officer,
    is_duplicate_reference,
    is_spike,
    letter_template,
    next_case_id,
    opened_at,
    record_case,
    reference_key,
    rejection_of,
    reused_id_rejection,
    spike_alert,
    spike_day,
    spike_resolution,
    unknown_unit_alert,
    window_counts,
)
from services.intake.rules import SpikePolicy, load_category_rules

from .factories import UNIT, attachment, complaint, personnummer

ROOT = Path(__file__).resolve().parents[3]
RULES = load_category_rules(ROOT / "rules" / "complaint_categories.yaml")
POLICY = AttachmentPolicy(10_000, frozenset({"image/jpeg", "application/pdf"}))


def reason(**overrides):
    rejected = rejection_of(complaint(**overrides), POLICY)
    return rejected.reason if rejected else None


# -- rejection reasons ---------------------------------------------------------------------------
def test_a_valid_complaint_is_not_rejected():
    assert reason() is None
    assert reason(patient={}) is None  # anonymous complaints are complaints
    assert reason(patient={"personnummer": personnummer(7)[:8] + "-" + personnummer(7)[8:]}) is None


@pytest.mark.parametrize("description", ["", "   ", "\n\t"])
def test_empty_description(description):
    assert reason(description=description) == "empty_description"


@pytest.mark.parametrize("value", ["196102020003", "19610202000", "abc", "", "19611302-0002"])
def test_invalid_personnummer_and_the_detail_never_echoes_it(value):
    rejected = rejection_of(complaint(patient={"personnummer": value}), POLICY)
    assert rejected.reason == "invalid_personnummer"
    assert not value or value not in rejected.detail


def test_samordningsnummer_is_a_valid_personnummer():
    from shared.kernel.personnummer import luhn_ok

    birth = "19610262"  # day + 60
    check = next(c for c in "0123456789" if luhn_ok(birth[2:] + "123" + c))
    assert reason(patient={"personnummer": birth + "123" + check}) is None


def test_attachment_over_the_limit():
    assert reason(attachments=[attachment(size_bytes=10_000)]) is None
    assert reason(attachments=[attachment(), attachment(size_bytes=10_001)]) == "attachment_too_large"


def test_attachment_media_type_not_on_the_allow_list():
    assert reason(attachments=[attachment(media_type="application/PDF; charset=binary")]) is None
    assert reason(attachments=[attachment(media_type="application/x-msdownload")]) == "attachment_type_not_allowed"


def test_empty_description_wins_over_other_reasons():
    assert reason(description=" ", patient={"personnummer": "1"}) == "empty_description"


# -- case numbering -----------------------------------------------------------------------------------
def test_case_id_shape():
    assert case_id_of(2023, 7) == "PN-2023-00007"
    assert case_id_of(2024, 12345) == "PN-2024-12345"


def test_next_case_id_follows_the_counter():
    assert next_case_id(2023, 0, lambda _c: None, "a") == (1, "PN-2023-00001")
    assert next_case_id(2023, 41, lambda _c: None, "a") == (42, "PN-2023-00042")


def test_next_case_id_skips_numbers_held_by_other_complaints_when_the_counter_was_lost():
    holders = {"PN-2023-00001": "a", "PN-2023-00002": "b"}
    assert next_case_id(2023, 0, holders.get, "c") == (3, "PN-2023-00003")


def test_next_case_id_gives_a_complaint_back_the_number_whose_case_record_survived():
    holders = {"PN-2023-00001": "a", "PN-2023-00002": "b"}
    assert next_case_id(2023, 1, holders.get, "b") == (2, "PN-2023-00002")


# -- categories ------------------------------------------------------------------------------------------
def codes(refs):
    return [(r.code, r.source) for r in refs]


def test_submitter_categories_win_and_unknown_codes_are_dropped():
    c = complaint(categories=["vard.diagnos", "nonsense", "vard.diagnos"], description="otrevlig")
    assert codes(categorise(c, RULES)) == [("vard.diagnos", "submitter")]


def test_only_unknown_submitter_codes_fall_back_to_the_rules():
    c = complaint(categories=["nonsense"], description="Otrevligt bemötande")
    assert codes(categorise(c, RULES)) == [("kommunikation.bemotande", "rules")]


@pytest.mark.parametrize(("text", "expected"), [
    ("BEMÖTANDET var dåligt", ["kommunikation.bemotande"]),
    ("Ingen INFORMATION om min DIAGNOS", ["kommunikation.information"]),  # what went wrong, not its object
    ("Jag fick ingen information om behandlingen.", ["kommunikation.information"]),
    ("Väntetiden till operation är orimlig.", ["organisation.tillganglighet"]),
    ("Behandlingen hjälpte inte och ingen följde upp.", ["vard.behandling"]),
    ("Läkaren var otrevlig och jag fick ingen information.", ["kommunikation.bemotande", "kommunikation.information"]),
    ("Jag fick inte vara delaktig i besluten", ["kommunikation.delaktighet"]),
    ("Undersökningen var slarvig och bedömningen fel", ["vard.undersokning"]),
    ("Jag blev illa bemött i receptionen", ["kommunikation.bemotande"]),  # not "recept"
    ("desinformation", ["ovrigt"]),  # stems match at the start of a word only
    ("Parkeringen var dyr", ["ovrigt"]),
])
def test_keyword_rules(text, expected):
    assert codes(categorise(complaint(description=text), RULES)) == [(c, "rules") for c in expected]


def test_the_rules_cover_the_seeds_top_themes_with_national_model_codes():
    assert {"kommunikation.delaktighet", "kommunikation.information", "vard.undersokning", "vard.diagnos",
            "kommunikation.bemotande", "ovrigt"} <= set(RULES.codes)


def test_ovrigt_has_one_code_and_every_code_the_report_labels_exists_in_the_rules():
    from shared.apps.report.figures import MAIN_AREAS, SUB_AREAS

    assert RULES.fallback == "ovrigt" and "other" not in RULES.codes
    assert set(SUB_AREAS) <= set(RULES.codes)  # ekonomi.ersattning was labelled but never assigned
    assert {code.split(".")[0] for code in RULES.codes} == set(MAIN_AREAS)


# -- contacts ----------------------------------------------------------------------------------------------
def test_receipt_channel_and_recipient_never_carry_health_data():
    assert contact_of(complaint(), "PN-2023-00001", "ev").channel == "1177_inbox"
    assert contact_of(complaint(), "PN-2023-00001", "ev").recipient == "1177:ref-1"
    mail = contact_of(complaint(channel="email"), "PN-2023-00001", "ev")
    assert (mail.channel, mail.recipient) == ("email", "mailto:anna@example.se")
    letter = contact_of(complaint(channel="letter", submitter={"role": "relative"}), "PN-2023-00001", "ev")
    assert (letter.channel, letter.recipient) == ("letter", "case:PN-2023-00001/submitter")


def test_letter_templates():
    assert letter_template("out", "letter") == "sent_to_provider"
    assert letter_template("in", "letter") == "provider_replied"
    assert letter_template("in", "complaint") is None


# -- spike rule -----------------------------------------------------------------------------------------
SPIKE = SpikePolicy()


def test_window_and_baseline_counts():
    days = {"2023-06-10": 2, "2023-05-12": 1, "2023-05-11": 4, "2022-05-11": 8, "2022-05-10": 16}
    # window (05-11, 06-10]; baseline (2022-05-11, 2023-05-11]
    assert window_counts(days, date(2023, 6, 10), SPIKE) == (3, 4)


def test_record_case_counts_each_case_once_and_forgets_what_no_window_needs():
    tally = record_case({"days": {"2022-01-01": 3, "2023-06-01": 1}, "last": "PN-2023-00007"},
                        date(2023, 6, 1), "PN-2023-00009", SPIKE)
    assert tally == {"days": {"2023-06-01": 2}, "last": "PN-2023-00009"}
    assert record_case(tally, date(2023, 6, 1), "PN-2023-00009", SPIKE) == tally  # a replay of the same case
    assert record_case({}, date(2024, 1, 2), "PN-2024-00001", SPIKE)["days"] == {"2024-01-02": 1}
    later_year = record_case(tally, date(2024, 1, 2), "PN-2024-00001", SPIKE)
    assert later_year["days"]["2024-01-02"] == 1 and later_year["last"] == "PN-2024-00001"


# what happens to one (unit, category) tally: the next case's day moves by `step` days (mostly a
# little forward, sometimes back or past every window); it may be a replay of a case counted
# already, the tally may be read back as the old layout wrote it, and the periods may change
steps = st.lists(st.tuples(
    st.one_of(st.integers(0, 2), st.integers(-40, 40), st.integers(-500, 900)),
    st.sampled_from(["new", "new", "new", "replay", "old_layout"]),
    st.sampled_from([SPIKE, SPIKE, SpikePolicy(window_days=7, baseline_days=60)]),
), max_size=60)


@settings(max_examples=300, deadline=None)
@given(steps, st.sampled_from([1, 99_990]))
def test_count_case_decides_as_record_case_and_window_counts(history, first):
    """The incremental tally (count_case) against the reference definitions, step by step."""
    reference, fast, sequence, day, counted = {}, {}, first, date(2023, 1, 1), []
    for step, how, policy in history:
        day += timedelta(days=step)
        if how == "old_layout" and fast:
            fast = {"days": dict(fast["days"]), "last": fast["last"]}
        if how == "replay" and counted:
            case_id = counted[len(counted) // 2]
        else:
            sequence += 1
            case_id = f"PN-2023-{sequence:05d}"
            counted.append(case_id)
        reference = record_case(reference, day, case_id, policy)
        tally, current, baseline = count_case(fast, day, case_id, policy)
        fast = tally if tally is not None else fast
        assert (current, baseline) == window_counts(reference["days"], day, policy)
        assert fast["days"] == reference["days"] and fast["last"] == reference["last"]
        assert list(fast["days"]) == sorted(fast["days"])  # pruning from the front relies on it


def test_count_case_moves_its_sums_instead_of_recounting():
    tally, current, baseline = count_case({}, date(2023, 6, 1), "PN-2023-00001", SPIKE)
    assert (current, baseline) == (1, 0)
    assert tally == {"days": {"2023-06-01": 1}, "last": "PN-2023-00001", "at": "2023-06-01", "window": 1,
                     "baseline": 0, "window_days": 30, "baseline_days": 365}
    tally, current, baseline = count_case(tally, date(2023, 7, 1), "PN-2023-00002", SPIKE)
    assert (current, baseline) == (1, 1) and tally["days"] == {"2023-06-01": 1, "2023-07-01": 1}
    assert count_case(tally, date(2023, 6, 1), "PN-2023-00002", SPIKE) == (None, 1, 0)  # replay, as of its day


@pytest.mark.parametrize(("current", "baseline", "spike"), [
    (4, 0, False),   # below the minimum count
    (5, 0, True),    # no history: any 5 is a spike
    (5, 12, True),   # average ≈ 0.99 per 30 days
    (5, 24, False),  # average ≈ 1.97: 3× ≈ 5.92
    (6, 24, True),
])
def test_spike_thresholds(current, baseline, spike):
    assert is_spike(current, baseline, SPIKE) is spike


# -- reused ids and duplicates by reference --------------------------------------------------------------
def test_a_reused_event_id_is_refused_naming_the_id_never_the_content():
    refused = reused_id_rejection("c1")
    assert refused.reason == "event_id_reused"
    assert "c1" in refused.detail and "nytt id" in refused.detail
    long_id = "x" * 150
    assert "x" * 100 in reused_id_rejection(long_id).detail and long_id not in reused_id_rejection(long_id).detail


def test_the_reference_is_channel_and_external_ref_and_absent_without_one():
    assert reference_key(complaint()) == "1177|ref-1"
    assert reference_key(complaint(channel="email")) == "email|ref-1"
    assert reference_key(complaint(external_ref=None)) is None


def test_a_reference_first_seen_under_another_event_id_is_a_duplicate():
    assert is_duplicate_reference(None, "c1") is False  # unseen
    assert is_duplicate_reference("c1", "c1") is False  # the same complaint again (a redelivery)
    assert is_duplicate_reference("c1", "c2") is True


# -- case time, year and care unit -------------------------------------------------------------------------
def test_a_case_is_opened_when_received_never_in_the_future():
    received, now = datetime(2023, 5, 1, 12, tzinfo=UTC), datetime(2023, 5, 3, 9, tzinfo=UTC)
    assert opened_at(received, now) == received  # a backlog: the complaint's own time
    assert opened_at(now + timedelta(days=365), now) == now  # dated in the future: now
    assert opened_at(now, now) == now


@pytest.mark.parametrize(("at", "year"), [
    (datetime(2023, 12, 31, 22, 59, tzinfo=UTC), 2023),  # 23:59 in Sweden
    (datetime(2023, 12, 31, 23, 0, tzinfo=UTC), 2024),  # 00:00 on New Year's Day in Sweden
    (datetime(2023, 12, 31, 23, 30, tzinfo=UTC), 2024),  # 00:30
    (datetime(2023, 12, 31, 18, 30, tzinfo=timezone(timedelta(hours=-5))), 2024),  # the same instant from New York
    (datetime(2024, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=3))), 2023),  # 22:30 on 31 December in Sweden
])
def test_the_case_year_is_the_swedish_year(at, year):
    assert case_year(at) == year


def test_care_unit_status():
    assert care_unit_status(None, None) == "none"
    assert care_unit_status("", None) == "none"
    assert care_unit_status(UNIT, {"care_provider": "Region Dalarna"}) == "resolved"
    assert care_unit_status(UNIT, None) == "unresolved"


def test_the_unknown_unit_alert_names_the_case_and_the_unit():
    at = datetime(2023, 5, 1, 12, tzinfo=UTC)
    alert = unknown_unit_alert("PN-2023-00004", "SE2321000180-9999", at)
    assert (alert.alert_id, alert.rule_id, alert.severity, alert.subject, alert.raised_at) == (
        "intake.unknown_care_unit:PN-2023-00004", "intake.unknown_care_unit", "warning", "PN-2023-00004", at)
    assert alert.facts == {"case_id": "PN-2023-00004", "care_unit_hsa_id": "SE2321000180-9999"}
    assert "PN-2023-00004" in alert.message.sv and "route it by hand" in alert.message.en


def test_an_officer_sees_the_case_without_its_contact():
    record = {"case_id": "PN-2023-00001", "channel": "email",
              "contact": {"channel": "email", "recipient": "mailto:a@example.se"}}
    assert for_officer(record) == {"case_id": "PN-2023-00001", "channel": "email"}
    assert for_officer({"case_id": "PN-2022-00007"}) == {"case_id": "PN-2022-00007"}  # an older record
    assert "contact" in record  # the record itself is untouched


# -- spike alerts -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("at", "day"), [
    (datetime(2023, 3, 25, 23, 30, tzinfo=UTC), date(2023, 3, 26)),  # 00:30 CET, the night summer time starts
    (datetime(2023, 3, 26, 22, 0, tzinfo=UTC), date(2023, 3, 27)),  # 00:00 CEST
    (datetime(2023, 10, 29, 22, 59, tzinfo=UTC), date(2023, 10, 29)),  # 23:59 CET
    (datetime(2023, 10, 29, 23, 0, tzinfo=UTC), date(2023, 10, 30)),  # 00:00 CET
])
def test_a_complaint_counts_on_its_swedish_date(at, day):
    assert spike_day(at) == day


def test_a_spike_alert_is_raised_at_the_threshold_and_names_the_pair_and_the_day():
    at = datetime(2023, 5, 20, 10, tzinfo=UTC)
    day = date(2023, 5, 20)
    assert spike_alert(UNIT, "vard.diagnos", day, 4, 0, SPIKE, at, already_open=False) is None
    alert = spike_alert(UNIT, "vard.diagnos", day, 5, 0, SPIKE, at, already_open=False)
    assert (alert.alert_id, alert.rule_id, alert.subject, alert.raised_at) == (
        f"intake.complaint_spike:{UNIT}:vard.diagnos:2023-05-20", "intake.complaint_spike", UNIT, at)
    assert alert.facts == {"care_unit_hsa_id": UNIT, "category": "vard.diagnos", "day": "2023-05-20", "count": 5,
                           "baseline_count": 0,
                           "window_days": 30, "baseline_days": 365, "min_count": 5, "ratio": 3}
    assert alert.message.en.startswith("5 complaints in category vard.diagnos within 30 days")


def test_no_second_spike_alert_while_one_is_open_for_the_pair():
    at = datetime(2023, 5, 20, 10, tzinfo=UTC)
    assert spike_alert(UNIT, "vard.diagnos", date(2023, 5, 20), 9, 0, SPIKE, at, already_open=True) is None


def test_a_spike_alert_is_resolved_when_the_window_ending_on_the_swedish_date_falls_back():
    raised = datetime(2023, 5, 20, 10, tzinfo=UTC)
    days = {"2023-05-20": 5}
    args = ("intake.complaint_spike:x", UNIT, "vard.diagnos", days, raised)
    assert spike_resolution(*args, raised + timedelta(days=10), SPIKE) is None  # still within the window
    # 30 days on in Sweden (00:30 on 19 June) the window (05-20, 06-19] no longer holds 20 May
    assert spike_resolution(*args, datetime(2023, 6, 18, 21, 59, tzinfo=UTC), SPIKE) is None  # 23:59 on 18 June
    at = datetime(2023, 6, 18, 22, 30, tzinfo=UTC)
    resolved = spike_resolution(*args, at, SPIKE)
    assert (resolved.alert_id, resolved.rule_id, resolved.subject, resolved.raised_at, resolved.resolved_at) == (
        "intake.complaint_spike:x", "intake.complaint_spike", UNIT, raised, at)
    assert resolved.facts == {"care_unit_hsa_id": UNIT, "category": "vard.diagnos", "count": 0, "baseline_count": 5}
    assert spike_resolution("a", UNIT, "vard.diagnos", {}, raised, raised, SPIKE) is not None  # no tally: over
