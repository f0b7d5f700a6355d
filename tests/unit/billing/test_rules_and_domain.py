"""Agreements: dates, legal basis and form filters, precedence, file validation; invoices: numbering, credits."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from services.billing.domain import (
    BEFORE_AGREEMENT,
    IN_REGION,
    NOT_COVERED,
    OTHER_CARE_REGION,
    VOLUNTARY,
    Decision,
    choose,
    day_record,
    draft_invoices,
    invoice_number,
    issue_invoice,
    screen,
)
from services.billing.rules import BillingRules, load_billing_rules
from shared.contract.events import InvoiceDrafted, InvoiceDraftLine
from shared.service.rules import RulesFileError

from .factories import care_day


def decide(rules: BillingRules, day) -> Decision:
    reason = screen(day, rules.care_region)
    return Decision(None, reason) if reason else choose(day, rules.matching(day), rules.agreements)


def test_agreements_start_on_2023_07_01(rules):
    assert decide(rules, care_day("21", "2023-06-30")) == Decision(None, BEFORE_AGREEMENT)
    billed = decide(rules, care_day("21", "2023-07-01"))
    assert billed.agreement.id == "mellanlansavtal-21" and billed.agreement.surcharge_per_day == Decimal("120.00")


def test_mellanlansavtal_beats_riksavtalet_which_covers_every_other_region(rules):
    assert decide(rules, care_day("03")).agreement.id == "mellanlansavtal-03"
    assert decide(rules, care_day("05")).agreement.id == "riksavtalet"


@pytest.mark.parametrize(("day", "reason"), [
    (care_day("21", basis=None), VOLUNTARY),
    (care_day("20"), IN_REGION),
    (care_day("21", care_region="21"), OTHER_CARE_REGION),
])
def test_days_that_are_never_billed(rules, day, reason):
    assert decide(rules, day) == Decision(None, reason)


@pytest.mark.parametrize(("basis", "form", "billed"), [
    ("LPT", "inpatient", True), ("LRV", "inpatient", True),
    ("SmL", "inpatient", False),  # not psychiatry's agreements: only where an agreement says so
    ("LPT", "outpatient", False), ("LRV", "outpatient", False),  # no per-day statistic in the seed
])
@pytest.mark.parametrize("home", ["21", "03", "05"])
def test_by_default_only_inpatient_lpt_and_lrv_days_are_surcharged(rules, home, basis, form, billed):
    """Handlingsplan, insats 2: 15,467 vårddygn inom slutenvården under psychiatry's agreements."""
    decision = decide(rules, care_day(home, "2024-03-01", basis, form))
    assert (decision.agreement is not None) == billed
    assert billed or decision.reason == NOT_COVERED


FILTERED = """
care_region: "20"
agreements:
  - id: gavle-lpt-inpatient
    kind: mellanlansavtal
    name: Gävleborg LPT
    home_regions: ["21"]
    effective_from: 2023-07-01
    effective_to: 2024-06-30
    surcharge_per_day: "150.00"
    legal_basis: [LPT]
    forms: [inpatient]
  - id: sjukvardsregion-mitt
    kind: sjukvardsregion
    name: Sjukvårdsregion Mellansverige
    home_regions: ["21", "03"]
    effective_from: 2023-07-01
    surcharge_per_day: "130.00"
    legal_basis: [LPT, LRV]
    forms: [inpatient]
  - id: riksavtalet
    kind: riksavtalet
    name: Riksavtalet
    home_regions: "*"
    effective_from: 2023-07-01
    surcharge_per_day: "120.00"
    legal_basis: [LPT, LRV, SmL]
    forms: [inpatient]
revenue: {cost_centre: "5100"}
"""


def test_legal_basis_and_form_filters_fall_back_by_precedence(write_rules):
    rules = load_billing_rules(write_rules(FILTERED), default_region="99")
    assert rules.care_region == "20"
    assert decide(rules, care_day("21", basis="LPT")).agreement.id == "gavle-lpt-inpatient"
    assert decide(rules, care_day("21", basis="LRV")).agreement.id == "sjukvardsregion-mitt"
    assert decide(rules, care_day("21", basis="SmL")).agreement.id == "riksavtalet"
    assert decide(rules, care_day("21", "2024-07-01")).agreement.id == "sjukvardsregion-mitt"  # after effective_to
    assert decide(rules, care_day("21", form="outpatient")) == Decision(None, NOT_COVERED)


def test_care_region_defaults_to_the_setting(write_rules):
    text = FILTERED.replace('care_region: "20"\n', "")
    assert load_billing_rules(write_rules(text), default_region="20").care_region == "20"


@pytest.mark.parametrize(("old", "new", "says"), [
    ('surcharge_per_day: "130.00"', 'surcharge_per_day: "-1"', "above 0"),
    ('kind: sjukvardsregion', 'kind: landsting', "kind"),
    ('legal_basis: [LPT]', 'legal_basis: [LVU]', "legal_basis"),
    ('effective_to: 2024-06-30', 'effective_to: 2023-01-01', "effective_to is before effective_from"),
    ('id: riksavtalet', 'id: sjukvardsregion-mitt', "unique"),
])
def test_an_invalid_rules_file_names_its_line(write_rules, old, new, says):
    text = FILTERED.replace(old, new)
    path = write_rules(text)
    with pytest.raises(RulesFileError) as err:
        load_billing_rules(path, default_region="20")
    assert says in str(err.value)
    if says in ("kind", "legal_basis", "above 0"):  # field errors point at the field's own line
        line = next(n for n, t in enumerate(text.splitlines(), 1) if new.split(":")[0] in t and new in t)
        assert f"{path}:{line}:" in str(err.value)
    else:
        assert f"{path}:" in str(err.value)


def test_overlapping_agreements_of_one_kind_are_refused(write_rules):
    text = FILTERED.replace("kind: sjukvardsregion", "kind: mellanlansavtal")
    with pytest.raises(RulesFileError, match="overlap"):
        load_billing_rules(write_rules(text), default_region="20")


def test_supplementary_invoices_are_numbered_from_2():
    assert invoice_number("2024-03", "21", 1) == "PN-2024-03-21"
    assert invoice_number("2024-03", "21", 2) == "PN-2024-03-21-2"
    assert invoice_number("2024-03", "21", 3) == "PN-2024-03-21-3"


def _draft(ids, cancelled=()):
    return InvoiceDrafted(period="2024-03", home_region="21", cancelled_care_day_ids=list(cancelled), lines=[
        InvoiceDraftLine(agreement_id="mellanlansavtal-21", legal_basis="LPT", description="d",
                         unit_price="120.00", care_day_ids=list(ids))])


def test_issue_leaves_out_billed_days_and_credits_cancelled_ones_once():
    first = issue_invoice(_draft(["A", "B", "C"]), [])
    assert first.invoice_number == "PN-2024-03-21" and first.total == Decimal("360.00")
    issued = [first.model_dump(mode="json")]
    second = issue_invoice(_draft(["A", "D"], cancelled=["B", "X"]), issued)
    assert second.invoice_number == "PN-2024-03-21-2"
    assert [line.care_day_ids for line in second.lines] == [["D"]]
    assert [(c.care_day_id, c.amount) for c in second.credits] == [("B", Decimal("120.00"))]
    assert second.total == Decimal("0.00")
    issued.append(second.model_dump(mode="json"))
    assert issue_invoice(_draft(["A", "D"], cancelled=["B"]), issued) is None


def test_draft_groups_closed_periods_and_counts_what_is_not_billed(rules):
    days = [care_day("21", "2024-03-01"), care_day("21", "2024-03-02", basis="LRV"), care_day("21", "2024-03-03"),
            care_day("21", "2024-03-04", basis=None), care_day("20", "2024-03-04"), care_day("03", "2024-04-01")]
    records = [(d.care_date.isoformat(), day_record(d, decide(rules, d))) for d in days]
    drafts = draft_invoices(records, closed={"2024-03"}, cancelled={days[2].care_day_id}, billed={},
                            describe=rules.names())
    assert [(d.period, d.home_region) for d in drafts] == [("2024-03", "21")]
    (draft,) = drafts
    assert [(line.legal_basis, line.care_day_ids) for line in draft.lines] == [
        ("LPT", [days[0].care_day_id]), ("LRV", [days[1].care_day_id])]
    assert draft.statistics == {"billable_days": 2, "not_billed": {"voluntary": 1},
                                "period_not_billed": {"in_region": 1, "voluntary": 1}}


def test_the_engine_agrees_with_the_agreements_on_every_day_around_the_boundaries(write_rules):
    """Dates reach the engine as the first day of their stretch between boundaries (a cache key
    that repeats); the answer must be the one the agreements give for the day itself."""
    rules = load_billing_rules(write_rules(FILTERED), default_region="20")
    day0 = date(2023, 6, 25)
    for offset in [*range(0, 12), *range(360, 380)]:
        for home, basis, form in (("21", "LPT", "inpatient"), ("21", "LRV", "inpatient"), ("05", "SmL", "outpatient")):
            day = care_day(home, day0 + timedelta(days=offset), basis, form)
            expected = [a.id for a in rules.agreements if a.covers_care(day)
                        and a.effective_from <= day.care_date <= (a.effective_to or date.max)]
            assert [a.id for a in rules.matching(day)] == expected, day.care_date
