"""Figure functions (pure) and quarter boundaries in Swedish time."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from shared.apps.report import figures as f
from shared.apps.report.economy import tkr
from shared.apps.report.figures import NoDataError, Period, parse_period, report_from_events
from shared.contract.events import (
    AlertMessage,
    AlertRaised,
    AlertResolved,
    CareUnitUpserted,
    CaseOpened,
    CategoryRef,
    DiaryRegistered,
    FeeCalculated,
    FeeLine,
    FeePayout,
    InvoiceCredit,
    InvoiceIssued,
    InvoiceLine,
    LetterDispatched,
    make_event,
)

from .sample import BUDGET_2023, generate

T = datetime.fromisoformat


def case(case_id, at, *, channel="1177", unit="SE2321000180-1", provider="Region Dalarna", code="kommunikation.delaktighet",
         codes=None):
    cats = [CategoryRef(code=c, source="rules") for c in (codes or [code])]
    return make_event(CaseOpened(case_id=case_id, complaint_event_id=f"e-{case_id}", channel=channel, region="20",
                                 care_unit_hsa_id=unit, care_unit_status="resolved", care_provider=provider,
                                 categories=cats, opened_at=T(at)), source="/t", time=T(at))


def diary(case_id, at, *, direction="in", kind="complaint", n=1, subject="Klagomål"):
    return make_event(DiaryRegistered(diary_number=f"PN 2023/{n}", registered_at=T(at), direction=direction,
                                      document_kind=kind, case_id=case_id, counterpart="x", subject=subject,
                                      confidential=True), source="/t", time=T(at))


# -- periods ---------------------------------------------------------------------------------------
def unit(hsa_id, name, region="20"):
    data = CareUnitUpserted(hsa_id=hsa_id, name=name, care_provider="Region Dalarna", region=region,
                            registry_address="registrator@example.se")
    return make_event(data, source="/hsa/sync", time=T("2023-01-01T06:00:00+01:00"), id=f"unit-{hsa_id}-{name}")


def test_parse_period():
    assert parse_period("2023") == Period(2023)
    assert parse_period("2023-q3") == Period(2023, 3)
    for bad in ("23", "2023-Q0", "2023-Q5", "2023-07", ""):
        with pytest.raises(ValueError):
            parse_period(bad)


def test_quarter_bounds_previous_and_year_before():
    assert (Period(2023, 1).first, Period(2023, 1).last) == (date(2023, 1, 1), date(2023, 3, 31))
    assert (Period(2023, 2).last, Period(2023, 3).last, Period(2023, 4).last) == (date(2023, 6, 30), date(2023, 9, 30), date(2023, 12, 31))
    assert Period(2023, 1).previous() == Period(2022, 4)
    assert Period(2023, 3).previous() == Period(2023, 2)
    assert Period(2023, 3).year_before() == Period(2022, 3)
    assert Period(2023).previous() == Period(2022) == Period(2023).year_before()


@pytest.mark.parametrize(("at", "quarter"), [
    ("2023-03-31T23:59:00+02:00", 1),   # Swedish summer time began 26 March 2023
    ("2023-03-31T21:59:00+00:00", 1),   # the same instant in UTC
    ("2023-04-01T00:00:00+02:00", 2),
    ("2023-03-31T22:00:00+00:00", 2),   # = 2023-04-01 00:00 Swedish time
    ("2023-12-31T23:30:00+01:00", 4),
    ("2022-12-31T23:30:00+00:00", 1),   # = 2023-01-01 00:30 Swedish time: 2023 Q1
])
def test_quarter_boundaries_in_swedish_time(at, quarter):
    events = [case("c1", at)]
    counts = {q: len(f.cases_in([e.data for e in events], Period(2023, q))) for q in (1, 2, 3, 4)}
    assert counts == {q: int(q == quarter) for q in (1, 2, 3, 4)}


def test_quarter_boundary_in_the_report():
    events = [case(f"a{i}", "2023-03-31T23:59:00+02:00") for i in range(5)]
    events += [case(f"b{i}", "2023-04-01T00:00:00+02:00") for i in range(7)]
    total = lambda r: next(x for x in r["sections"]["cases_by_channel"]["rows"] if x["key"] == "total")  # noqa: E731
    q2 = report_from_events(events, "2023-Q2")
    assert (total(q2)["current"], total(q2)["previous"], total(q2)["year_before"]) == (7, 5, 0)
    assert q2["periods"]["previous"]["name"] == "2023-Q1" and q2["periods"]["year_before"]["name"] == "2022-Q2"


# -- figures ---------------------------------------------------------------------------------------
def test_main_and_sub_areas():
    cases = [case("1", "2023-05-01T10:00:00+02:00", codes=["vard.diagnos", "vard.behandling"]).data,
             case("2", "2023-05-01T10:00:00+02:00", codes=["kommunikation.bemotande", "vard.diagnos"]).data,
             case("3", "2023-05-01T10:00:00+02:00", codes=["other"]).data,
             case("4", "2023-05-01T10:00:00+02:00", codes=["ovrigt"]).data]
    assert f.count_by_main_area(cases) == {"vard": 2, "kommunikation": 1, "ovrigt": 2}
    assert f.count_by_sub_area(cases) == {"vard.diagnos": 2, "vard.behandling": 1, "kommunikation.bemotande": 1, "ovrigt": 2}


def test_top_with_rest():
    from collections import Counter

    c = Counter({f"u{i:02d}": 20 - i for i in range(13)})
    top = f.top_with_rest(c)
    assert list(top)[:10] == [f"u{i:02d}" for i in range(10)] and top["rest"] == 10 + 9 + 8
    assert f.top_with_rest(Counter({"u00": 3, "x": 4}), keys=["u00"]) == {"u00": 3, "rest": 4}


def test_reply_days_counts_first_incoming_letter_after_the_complaint():
    entries = [diary("a", "2023-01-10T10:00:00+01:00").data,
               diary("a", "2023-01-12T10:00:00+01:00", direction="out", kind="letter").data,
               diary("a", "2023-02-09T10:00:00+01:00", kind="letter").data,   # 30 days
               diary("a", "2023-03-01T10:00:00+01:00", kind="letter").data,   # a second reply: ignored
               diary("b", "2023-03-20T10:00:00+01:00").data,
               diary("b", "2023-04-09T10:00:00+02:00", kind="letter").data,   # 20 days, in Q2
               diary("c", "2023-03-20T10:00:00+01:00").data]                  # no reply
    assert sorted(f.reply_days(entries, Period(2023))) == [20, 30]
    assert f.reply_days(entries, Period(2023, 1)) == [30]
    assert f.median([20, 30, 10]) == 20.0 and f.median([]) is None


def test_letters_support_out_of_region_alerts():
    d = [diary("a", "2023-01-10T10:00:00+01:00").data,
         diary("a", "2023-01-11T10:00:00+01:00", direction="out", kind="letter").data,
         diary("a", "2023-02-11T10:00:00+01:00", kind="letter").data]
    sent = [make_event(LetterDispatched(letter_id="l", diary_number="PN 2023/2", registry_address="r",
                                        dispatched_at=T("2023-01-11T11:00:00+01:00")), source="/t", time=T("2023-01-11T11:00:00+01:00")).data]
    assert f.letters(d, sent, Period(2023)) == {"complaints_registered": 1, "letters_registered_in": 1,
                                                "letters_registered_out": 1, "letters_dispatched": 1}
    fee = lambda i, sp, day: (FeeCalculated(  # noqa: E731
        fee_id=f"f{i}", visit_id=f"v{i}", support_person_id=sp, total=Decimal("350.00"), schedule_version="1", rule_ids=[],
        lines=[FeeLine(code="a", description="a", quantity=Decimal(1), unit_price=Decimal("350.00"), amount=Decimal("350.00"), taxable=True)]),
        date.fromisoformat(day))
    fees = [fee(1, "s1", "2023-01-05"), fee(2, "s1", "2023-02-05"), fee(3, "s2", "2023-04-05"), fee(4, "s3", "2022-12-31")]
    pay = [FeePayout(period="2023-01", support_person_id="s1", fee_ids=["f1"], taxable_total=Decimal("350.00"),
                     tax_free_total=Decimal("0.00"), total=Decimal("350.00"))]
    assert f.support(fees, pay, Period(2023, 1)) == {"support_persons_active": 1, "visits": 2, "fees_total": Decimal("700.00"),
                                                     "payouts": 1, "payouts_total": Decimal("350.00")}
    inv = InvoiceIssued(invoice_number="PN-2023-03-21", period="2023-03", home_region="21",
                        lines=[InvoiceLine(agreement_id="a", legal_basis="LPT", description="d", quantity=3, unit_price=Decimal("120.00"),
                                           amount=Decimal("360.00"), care_day_ids=["1", "2", "3"])],
                        credits=[InvoiceCredit(care_day_id="0", amount=Decimal("120.00"))], total=Decimal("240.00"))
    assert f.out_of_region([inv], Period(2023, 1)) == {"21": {"care_days": 3, "credited_days": 1, "amount": Decimal("240.00")}}
    assert f.out_of_region([inv], Period(2023, 2)) == {}
    msg = AlertMessage(sv="s", en="e")
    raised = AlertRaised(alert_id="a", rule_id="intake.complaint_spike", severity="warning", subject="u", message=msg,
                         raised_at=T("2023-03-31T23:30:00+02:00"))
    resolved = AlertResolved(alert_id="a", rule_id="intake.complaint_spike", severity="warning", subject="u", message=msg,
                             raised_at=T("2023-03-31T23:30:00+02:00"), resolved_at=T("2023-04-02T10:00:00+02:00"))
    assert f.alerts([(raised, "ops")], [(resolved, "ops")], Period(2023, 1), f.is_spike) == {"intake.complaint_spike": {"raised": 1, "resolved": 0}}
    assert f.alerts([(raised, "ops")], [(resolved, "ops")], Period(2023, 2), f.is_spike) == {"intake.complaint_spike": {"raised": 0, "resolved": 1}}
    assert f.alerts([(raised, "ops")], [], Period(2023, 1), f.is_budget) == {}


def test_a_budget_alert_counts_in_the_month_it_is_about():
    """Budget alerts of 2023 raised when the year is replayed in 2026 (the demo, a rebuild) are 2023's."""
    msg = AlertMessage(sv="s", en="e")
    late = AlertRaised(alert_id="b", rule_id="budget.revenue_shortfall", severity="info", subject="6102", message=msg,
                       facts={"year": 2023, "period": "2023-11"}, raised_at=T("2026-12-06T21:00:00+01:00"))
    assert f.alerts([(late, "budget")], [], Period(2023, 4), f.is_budget) == {"budget.revenue_shortfall": {"raised": 1, "resolved": 0}}
    assert f.alerts([(late, "budget")], [], Period(2026, 4), f.is_budget) == {}


def test_duplicate_event_ids_count_once():
    e = case("c1", "2023-05-01T10:00:00+02:00")
    assert len(f.collect([e, e]).cases) == 1


def test_no_data_is_an_error_not_an_empty_report():
    with pytest.raises(NoDataError, match="no data for 2021-Q2"):
        report_from_events([case("c1", "2023-05-01T10:00:00+02:00")], "2021-Q2")
    with pytest.raises(NoDataError):
        report_from_events([], "2023")


# -- a demo-like year ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def year_report():
    return report_from_events(generate(2023), "2023")


def test_demo_year_category_shares_match_the_scenario_mix(year_report):
    from shared.apps.demo.scenario import THEMES

    share = {r["key"]: r["share"] for r in year_report["sections"]["cases_by_sub_area"]["rows"]}
    for code, weight, _ in THEMES:
        assert abs(share[code] - 100 * weight) < 4.5, (code, share[code], weight)  # 557 draws: sampling noise
    assert round(sum(share.values()), 0) == 100


def test_demo_year_budget_deviation_per_cost_centre_in_tkr(year_report):
    rows = {(r["key"], r["measure"]): r for r in year_report["sections"]["budget"]["rows"]}
    for cc, (budget, actual) in BUDGET_2023.items():
        assert rows[(cc, "netto")]["deviation"] == tkr(actual - budget)
    assert rows[("total", "netto")]["deviation"] == 336  # Jämtland 2023: +336 tkr
    assert year_report["sections"]["budget"]["note"].startswith("Ackumulerat till och med december 2023")


def test_demo_year_trend_and_totals(year_report):
    assert [r["cases"] for r in year_report["trend"]["rows"]] == [463, 474, 408, 545, 673, 557]
    sp = {r["key"]: r["current"] for r in year_report["sections"]["support"]["rows"]}
    assert sp["visits"] == 1365 and sp["support_persons_active"] == 40
