"""Pure fee decisions and the schedule file: each rule, the version boundary, the 28-day limit,
ISO weeks across a year end, start-up validation that names version, rule and line; and the
decisions the handlers call: duplicates, rejections, the week's carrier in canonical order, the
day's cap shared out in visit-id order, the person's partition, the fee's period and posting, the hold's expiry, release order and payouts."""

from __future__ import annotations

import zlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from services.fees.domain import (
    DUPLICATE_VISIT,
    NO_VERSION,
    Assignment,
    allocate_claims,
    claimed_before_in_order,
    cost_posting,
    facts,
    fee_period,
    hold_expired,
    ineligible,
    lines_for,
    no_assignment,
    payout,
    persons_partition,
    rejection,
    release_order,
    reused_id_detail,
    seen_before,
    takes_week,
    visit_order,
    week_lines,
    week_of,
)
from services.fees.rules import load_schedule
from shared.service.rules import RulesFileError

from .factories import visit
from .harness import ROOT, schedule


def price(v):
    version = schedule().version_for(v.date)
    f = facts(v, first_in_week=True)
    matched = schedule().matching(version, f)
    return version.version, {line.code: line for line in lines_for(v, version.rules, matched)}


@pytest.mark.parametrize(("day", "version", "weekly", "hearing", "km", "cap"), [
    (date(2022, 12, 31), "2019", "350.00", "250.00", "1.85", "1200.00"),
    (date(2023, 1, 1), "PN 2022/11", "420.00", "300.00", "2.50", "1500.00"),
])
def test_every_rule_on_both_sides_of_the_version_boundary(day, version, weekly, hearing, km, cap):
    used, lines = price(visit(day=day, km="10.0"))
    assert used == version and set(lines) == {"weekly_fee", "expense_allowance", "travel"}
    assert lines["weekly_fee"].amount == Decimal(weekly) and lines["weekly_fee"].taxable
    assert lines["expense_allowance"].amount == Decimal("100.00") and lines["expense_allowance"].taxable
    assert lines["travel"].amount == Decimal(km) * 10 and not lines["travel"].taxable
    _, lines = price(visit(day=day, kind="hearing", lost="9999.00", certified=True))
    assert set(lines) == {"hearing_fee", "lost_income"}
    assert lines["hearing_fee"].amount == Decimal(hearing)
    assert lines["lost_income"].amount == Decimal(cap)  # capped per day


def test_lost_income_needs_a_hearing_and_a_certificate_and_is_paid_below_the_cap():
    _, lines = price(visit(kind="hearing", lost="800.40", certified=True))
    assert lines["lost_income"].amount == Decimal("800.40")
    assert "lost_income" not in price(visit(kind="hearing", lost="800.00", certified=False))[1]
    assert "lost_income" not in price(visit(kind="visit", lost="800.00", certified=True))[1]


def test_phone_earns_the_week_hearing_does_not_and_a_second_contact_only_travel():
    assert "weekly_fee" in price(visit(kind="phone"))[1]
    assert "weekly_fee" not in price(visit(kind="hearing"))[1]
    version = schedule().version_for(date(2023, 3, 1))
    second = visit(km="3.3")
    matched = schedule().matching(version, facts(second, first_in_week=False))
    assert [line.code for line in lines_for(second, version.rules, matched)] == ["travel"]


def test_travel_rounds_half_up_to_ore():
    _, lines = price(visit(day=date(2022, 6, 1), km="0.1"))  # 0.185 -> 0.19
    assert lines["travel"].amount == Decimal("0.19")


def test_28_days_after_care_ended_accepted_29_rejected():
    a = Assignment("sp1", date(2023, 1, 1), care_ended_on=date(2023, 5, 1))
    assert ineligible(visit(day=date(2023, 5, 29)), a, 180) is None
    assert ineligible(visit(day=date(2023, 5, 30)), a, 180)[0] == "outside_support_period"


def test_before_start_after_end_and_too_late():
    a = Assignment("sp1", date(2023, 2, 1), ended_on=date(2023, 6, 30))
    assert ineligible(visit(day=date(2023, 1, 31)), a, 180)[0] == "outside_support_period"
    assert ineligible(visit(day=date(2023, 6, 30)), a, 180) is None
    assert ineligible(visit(day=date(2023, 7, 1)), a, 180)[0] == "outside_support_period"
    on_time = visit(day=date(2023, 3, 1), submitted=date(2023, 8, 28))  # 180 days
    assert ineligible(on_time, a, 180) is None
    late = visit(day=date(2023, 3, 1), submitted=date(2023, 8, 29))
    assert ineligible(late, a, 180)[0] == "claim_too_late"


def test_iso_weeks_across_year_ends():
    assert week_of(date(2020, 12, 31)) == week_of(date(2021, 1, 3)) == "2020-W53"
    assert week_of(date(2021, 1, 4)) == "2021-W01"
    assert week_of(date(2024, 12, 30)) == week_of(date(2025, 1, 5)) == "2025-W01"
    assert week_of(date(2024, 12, 29)) == "2024-W52"


def test_the_default_schedule_has_two_versions():
    assert [(v.version, str(v.effective_from)) for v in schedule().versions] == [
        ("2019", "2019-01-01"), ("PN 2022/11", "2023-01-01")]
    assert schedule().version_for(date(2018, 12, 31)) is None


def test_an_invalid_schedule_names_version_rule_and_line(tmp_path):
    text = (ROOT / "rules" / "fee_schedule.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "fee_schedule.yaml"
    bad.write_text(text.replace('amount: "2.50"', 'amount: "2.505"').replace("has_travel: true}", "has_trave: true}", 1),
                   encoding="utf-8")
    with pytest.raises(RulesFileError) as err:
        load_schedule(bad)
    msg = str(err.value)
    assert "versions.0.rules.3 (version '2019', rule 'travel').when" in msg and "has_trave" in msg
    assert "versions.1.rules.3 (version 'PN 2022/11', rule 'travel').amount" in msg
    assert f"{bad}:{text.splitlines().index('        when: {has_travel: true}') + 1}:" in msg


def test_the_shipped_schedule_says_its_amounts_are_examples_and_cites_no_other_regions_decision():
    """The seeds name PN 2022/11 but give no amounts; the 2019 version's "RS 2018-10-31 §231" was
    another region's decision (DOMAIN.md), not Dalarna's."""
    text = (ROOT / "rules" / "fee_schedule.yaml").read_text(encoding="utf-8")
    assert "EXAMPLE AMOUNTS" in text
    for version in schedule().versions:
        assert version.example, version.version
        assert "2018-10-31" not in version.decided and "§231" not in version.decided and "3781" not in version.decided
    assert "PN 2022/11" in schedule().version_for(date(2023, 1, 1)).decided


def test_the_weekly_allowance_says_which_week_it_pays():
    """"Per påbörjad vecka": every ISO week of the assignment with a visit or phone contact counts
    whole, whatever its weekday; the description says so, and the rule's condition does it."""
    for version in schedule().versions:
        rule = next(r for r in version.rules if r.id == "expense_allowance")
        assert rule.description == "Kostnadsersättning per påbörjad vecka med besök eller telefonkontakt"
        assert rule.per == "week" and rule.when == {"kind": ["visit", "phone"], "first_in_week": True}
    _, sunday = price(visit(day=date(2023, 3, 5)))  # a week started on its last day still counts whole
    assert sunday["expense_allowance"].amount == Decimal("100.00")


# -- the decisions handlers.py calls ----------------------------------------------------------
def test_a_visit_is_new_the_same_again_or_a_conflict_by_its_content():
    assert seen_before(None, "abc") == "new"
    assert seen_before("abc", "abc") == "again"
    assert seen_before("abc", "abd") == "conflict"
    assert seen_before("", "abc") == "conflict"  # a known (if empty) digest is not "new"
    assert DUPLICATE_VISIT == ("duplicate_visit", "samma besöks-id med annat innehåll")


def test_a_reused_event_id_is_named_in_the_refusal_cut_to_100_characters():
    assert reused_id_detail("ev-1").startswith("Händelse-id ev-1 har redan använts för ett annat innehåll")
    assert "x" * 100 + " har" in reused_id_detail("x" * 150) and "x" * 101 not in reused_id_detail("x" * 150)


def test_rejection_without_a_version_then_by_eligibility():
    a = Assignment("sp1", date(2023, 1, 1), care_ended_on=date(2023, 5, 1))
    version = schedule().version_for(date(2023, 3, 1))
    assert rejection(visit(day=date(2018, 12, 31)), a, None) == NO_VERSION
    assert NO_VERSION == ("outside_support_period", "ingen arvodesordning gäller datumet")
    assert rejection(visit(day=date(2023, 3, 1)), a, version) is None
    assert rejection(visit(day=date(2023, 5, 30)), a, version)[0] == "outside_support_period"
    late = visit(day=date(2023, 3, 1), submitted=date(2023, 3, 1) + timedelta(days=version.claim_deadline_days + 1))
    assert rejection(late, a, version)[0] == "claim_too_late"
    training = visit(day=date(2022, 12, 1), kind="training")  # before the assignment: still no version needed
    assert rejection(training, a, version) is None


def test_the_week_goes_to_its_earliest_contact_by_date_then_visit_id():
    assert visit_order(date(2023, 3, 1), "v9") < visit_order(date(2023, 3, 1), "w1") < visit_order(date(2023, 3, 2), "a")
    assert takes_week(None, "2023-03-02|v2")
    assert takes_week("2023-03-02|v2", "2023-03-02|v2")  # the carrier again (a replay)
    assert takes_week("2023-03-02|v2", "2023-03-01|v9")
    assert not takes_week("2023-03-01|v9", "2023-03-02|v2")
    version = schedule().version_for(date(2023, 3, 1))
    v = visit(km="10.0")
    carrying = schedule().price(version, v, True)
    plain = schedule().price(version, v, False)
    assert [line.code for line in week_lines(carrying.lines, plain.lines)] == ["weekly_fee", "expense_allowance"]


def test_the_days_cap_is_shared_out_in_visit_id_order():
    rules = schedule().version_for(date(2023, 3, 1)).rules  # lost_income: 1500.00 a day
    claims = {"v3": {"claim": "1000.00", "codes": ["lost_income"]}, "v1": {"claim": "900.50", "codes": ["lost_income"]},
              "v2": {"claim": "400.00", "codes": ["lost_income"]}}
    shares = allocate_claims(claims, rules)
    assert shares == {"v1": {"lost_income": Decimal("900.50")}, "v2": {"lost_income": Decimal("400.00")},
                      "v3": {"lost_income": Decimal("199.50")}}
    paid = {vid: {"paid": {c: str(a) for c, a in share.items()}} for vid, share in shares.items()}
    assert claimed_before_in_order(paid, "v3") == Decimal("1300.50")
    assert claimed_before_in_order(paid, "v0") == 0


def test_a_persons_partition_is_fixed_by_the_id():
    assert persons_partition("sp1", 4) == persons_partition("sp1", 4) == zlib.crc32(b"sp1") % 4
    assert {persons_partition(f"sp{i}", 4) for i in range(40)} == {0, 1, 2, 3}


def test_a_fee_belongs_to_its_visits_month():
    assert fee_period(date(2023, 1, 1)) == "2023-01"
    assert fee_period(date(2023, 12, 31)) == "2023-12"
    assert fee_period(date(2021, 1, 3)) == "2021-01"  # ISO week 2020-W53, calendar month January


def test_a_cost_is_posted_once_per_fee_unless_it_is_none_or_costs_are_not_posted():
    posting = cost_posting("fee-1", "v1", "2023-03", "6103", Decimal("-520.00"), True)
    assert posting == {"posting_id": "fees:fee-1", "period": "2023-03", "cost_centre": "6103", "account_group": "fees",
                       "amount": Decimal("-520.00"), "text": "Arvode stödperson, besök v1"}
    assert cost_posting("fee-1", "v1", "2023-03", "6103", None, True) is None
    assert cost_posting("fee-1", "v1", "2023-03", "6103", Decimal("-520.00"), False) is None


def test_a_hold_expires_at_its_limit_exactly():
    at = datetime(2023, 3, 1, 12, 0, tzinfo=UTC)
    hold = timedelta(seconds=60)
    assert not hold_expired(at, at + timedelta(seconds=59), hold)
    assert hold_expired(at, at + timedelta(seconds=60), hold)
    assert hold_expired(at, at + timedelta(days=1), hold)
    assert no_assignment("a9") == ("no_assignment", "inget uppdrag a9 inom väntetiden")


def test_held_visits_are_released_by_date_then_key():
    def entry(day: str) -> dict:
        return {"visit": {"date": day}}
    held = [("h|a1|v3", entry("2023-03-03")), ("h|a1|v2", entry("2023-03-01")), ("h|a1|v1", entry("2023-03-01"))]
    assert [k for k, _ in release_order(held)] == ["h|a1|v1", "h|a1|v2", "h|a1|v3"]
    assert release_order([]) == []


def test_a_payout_sums_taxable_and_tax_free_of_its_fees_only():
    fees = {"f1": {"taxable": "520.00", "tax_free": "25.00"}, "f2": {"taxable": "0.10", "tax_free": "0.19"},
            "f3": {"taxable": "1000.00", "tax_free": "0"}}
    p = payout("2023-03", "sp1", ["f1", "f2"], fees)
    assert (p.period, p.support_person_id, p.fee_ids) == ("2023-03", "sp1", ["f1", "f2"])
    assert (p.taxable_total, p.tax_free_total, p.total) == (Decimal("520.10"), Decimal("25.19"), Decimal("545.29"))
    empty = payout("2023-03", "sp1", [], fees)
    assert (empty.fee_ids, empty.total) == ([], 0)
