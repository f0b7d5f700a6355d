"""Pure fee decisions and the schedule file: each rule, the version boundary, the 28-day limit,
ISO weeks across a year end, and start-up validation that names version, rule and line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.fees.domain import Assignment, facts, ineligible, lines_for, week_of
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
