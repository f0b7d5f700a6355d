"""The decisions moved out of the handlers into domain.py, plain asserts: a day's agreement, whether
it duplicates the kept day, the duplicate alert, the periods a close covers, the income posting id."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from services.billing.domain import (
    AGAIN,
    BEFORE_AGREEMENT,
    DUPLICATE,
    DUPLICATE_RULE,
    IN_REGION,
    NEW,
    NOT_COVERED,
    OTHER_CARE_REGION,
    REPLACES,
    VOLUNTARY,
    Decision,
    Revenue,
    arrival,
    closed_periods,
    decide_day,
    duplicate_alert,
    income_posting_id,
    replaced_alert,
    revenue_postings,
)
from shared.contract.events import InvoiceIssued, InvoiceLine, PeriodCloseRequested

from .factories import care_day

NOW = datetime(2024, 4, 1, 8, 0, tzinfo=UTC)


def never_asked(day):
    raise AssertionError("the engine is asked only when agreements decide")


# -- decide_day ----------------------------------------------------------------------------------
def test_decide_day_screens_without_asking_the_engine(rules):
    agreements = rules.agreements
    assert decide_day(care_day("21", care_region="03"), "20", agreements, never_asked) == Decision(None, OTHER_CARE_REGION)
    assert decide_day(care_day("20"), "20", agreements, never_asked) == Decision(None, IN_REGION)
    assert decide_day(care_day("21", basis=None), "20", agreements, never_asked) == Decision(None, VOLUNTARY)


def test_decide_day_takes_the_matching_agreement_of_highest_precedence(rules):
    by_id = {a.id: a for a in rules.agreements}
    both = [by_id["riksavtalet"], by_id["mellanlansavtal-21"]]
    decision = decide_day(care_day("21"), "20", rules.agreements, lambda day: both)
    assert decision == Decision(by_id["mellanlansavtal-21"])
    assert decision.agreement.surcharge_per_day == Decimal("120.00")


def test_decide_day_without_a_match_says_whether_an_agreement_starts_later(rules):
    none = lambda day: []  # noqa: E731
    assert decide_day(care_day("21", "2023-06-30"), "20", rules.agreements, none) == Decision(None, BEFORE_AGREEMENT)
    assert decide_day(care_day("21", form="outpatient"), "20", rules.agreements, none) == Decision(None, NOT_COVERED)


def test_decide_day_with_the_real_engine(rules):
    assert decide_day(care_day("05"), "20", rules.agreements, rules.matching).agreement.id == "riksavtalet"
    assert decide_day(care_day("03", "2023-07-01"), "20", rules.agreements, rules.matching).agreement.id \
        == "mellanlansavtal-03"


# -- arrival -------------------------------------------------------------------------------------
def test_arrival_of_a_first_day_is_new():
    assert arrival("D1", None, kept_cancelled=False) == NEW
    assert arrival("D1", None, kept_cancelled=True) == NEW  # a cancel may come before its day


def test_arrival_of_the_same_care_day_id_is_again_even_after_a_cancel():
    assert arrival("D1", "D1", kept_cancelled=False) == AGAIN
    assert arrival("D1", "D1", kept_cancelled=True) == AGAIN


def test_arrival_of_another_id_is_a_duplicate_unless_the_kept_day_was_cancelled():
    assert arrival("D2", "D1", kept_cancelled=False) == DUPLICATE
    assert arrival("D2", "D1", kept_cancelled=True) == NEW  # a correction, decided like a first day


def test_of_two_duplicates_the_lower_id_is_kept_whichever_arrives_first_until_the_period_is_closed():
    assert arrival("D1", "D2", kept_cancelled=False) == REPLACES  # D2 first: D1 takes its place
    assert arrival("D2", "D1", kept_cancelled=False) == DUPLICATE  # D1 first: D2 is the duplicate
    assert arrival("D1", "D2", kept_cancelled=False, kept_closed=True) == DUPLICATE  # closed: D2 may be billed
    assert arrival("D1", "D2", kept_cancelled=True, kept_closed=True) == NEW


# -- duplicate_alert -----------------------------------------------------------------------------
def test_the_duplicate_alert_names_both_days_and_never_the_patient():
    day = care_day("21", "2024-03-01", patient="P-secret", care_day_id="D-twin")
    alert = duplicate_alert(day, "D-kept", NOW)
    assert (alert.alert_id, alert.rule_id, alert.severity, alert.subject) == (
        f"{DUPLICATE_RULE}:D-twin", "billing.duplicate_care_day", "warning", "D-twin")
    assert alert.facts == {"care_day_id": "D-twin", "kept_care_day_id": "D-kept",
                           "care_date": "2024-03-01", "home_region": "21"}
    assert "D-kept" in alert.message.sv and "D-kept" in alert.message.en
    assert alert.raised_at == NOW
    assert "P-secret" not in alert.model_dump_json()


def test_the_alert_for_a_replaced_day_is_the_one_it_would_get_had_it_come_second():
    kept = care_day("21", "2024-03-01", patient="P-secret", care_day_id="D2")
    lower = care_day("03", "2024-03-01", patient="P-secret", care_day_id="D1")
    replaced = {"id": "D2", "home": "21"}  # its day_record, as stored
    assert replaced_alert(replaced, lower, NOW) == duplicate_alert(kept, "D1", NOW)


# -- closed_periods ------------------------------------------------------------------------------
def close(period: str, service: str = "billing") -> PeriodCloseRequested:
    return PeriodCloseRequested(service=service, period=period)


def test_a_close_covers_every_period_closed_before_and_its_own_sorted():
    assert closed_periods([], close("2024-03")) == ["2024-03"]
    assert closed_periods(["2024-03", "2024-01"], close("2024-02")) == ["2024-01", "2024-02", "2024-03"]
    assert closed_periods(["2024-03"], close("2024-03")) == ["2024-03"]  # a re-close adds nothing


def test_a_close_for_fees_is_not_ours():
    assert closed_periods(["2024-03"], close("2024-04", service="fees")) is None


# -- income_posting_id ---------------------------------------------------------------------------
def test_the_income_posting_id_is_billing_and_the_invoice_number():
    assert income_posting_id("PN-2024-03-21-2") == "billing:PN-2024-03-21-2"


def test_revenue_postings_start_with_the_income_posting_and_derive_transfer_ids_from_it(rules):
    invoice = InvoiceIssued(
        invoice_number="PN-2024-03-21", period="2024-03", home_region="21", credits=[], total=Decimal("120.00"),
        lines=[InvoiceLine(agreement_id="mellanlansavtal-21", legal_basis="LPT", description="d", quantity=1,
                           unit_price=Decimal("120.00"), amount=Decimal("120.00"), care_day_ids=["D1"])])
    ids = [p.posting_id for p in revenue_postings(invoice, rules.revenue)]
    assert ids == ["billing:PN-2024-03-21", "billing:PN-2024-03-21:pn-andel:from", "billing:PN-2024-03-21:pn-andel"]
    assert [p.posting_id for p in revenue_postings(invoice, Revenue(cost_centre="5100"))] == [
        income_posting_id("PN-2024-03-21")]
