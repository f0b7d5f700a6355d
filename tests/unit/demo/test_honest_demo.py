"""The demo is honest (issue 23, item 7): its year has exactly the seed's 557 complaints and the
years before it in the log; the finance system's postings are fixed per account row from the
seed, never derived from what the services booked; the summary sets the seed's figures beside the
computed ones and explains the difference. Pure: no broker (the scenario is generated in memory)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shared.apps.demo.runner import finance_step
from shared.apps.demo.scenario import COMPLAINTS_PER_YEAR, Scenario
from shared.apps.demo.seed_jamtland import jamtland_2023
from shared.apps.demo.summary import economy
from shared.contract.events import BudgetStatus, LedgerPosted, make_event
from shared.contract.topics import FINANCE_POSTINGS
from shared.kernel.swedish_time import swedish_year


@pytest.fixture(scope="module")
def scenario():
    s = Scenario(year=2023)
    return s, list(s.steps())


def test_the_demo_year_has_exactly_557_complaints_and_the_log_the_years_before(scenario):
    s, steps = scenario
    plan = s.complaint_plan()
    assert len(plan) == s.expect.complaints_valid == 557
    assert sum(c.care_unit_hsa_id is not None and c.care_unit_hsa_id.endswith(("-9900", "-9901", "-9902"))
               for _, c, _ in plan) == s.expect.unknown_hsa == 3  # within the 557, not on top of them
    history = Counter(swedish_year(at) for at, _ in s.history_plan())
    assert history == {2018: 463, 2019: 474, 2020: 408, 2021: 545, 2022: 673}
    assert {**history, 2023: len(plan)} == COMPLAINTS_PER_YEAR
    # every valid submission is one case: the history and the year, nothing else
    submitted = steps[1].items + s.history().items
    valid = {(e.data.channel, e.data.external_ref) if e.data.external_ref else e.id
             for _, e in submitted if not isinstance(e, bytes) and e.data.patient.personnummer != "19121212-1213"}
    assert len(valid) == 2563 + 557 == s.expect.complaints_valid + s.expect.complaints_history


def test_care_days_are_the_seeds_inpatient_days_and_outpatients_are_not_surcharged(scenario):
    s, steps = scenario
    days = [e.data for _, e in steps[3].items]
    inpatient = [d for d in days if d.form == "inpatient" and d.legal_basis and d.home_region != "20"]
    assert len(inpatient) == 15_467 and {d.legal_basis for d in inpatient} == {"LPT", "LRV"}
    assert len({d.stay_id for d in days if d.form == "outpatient"}) == 13


def test_the_finance_systems_postings_are_fixed_whatever_the_services_booked(scenario):
    s, _ = scenario
    first = [(t.name, e.data) for t, e in finance_step(s).items]
    again = [(t.name, e.data) for t, e in finance_step(s, {("2023-03", "6103", "fees"): Decimal("-999999")}).items]
    assert first == again
    posted = [d for t, d in first if t == FINANCE_POSTINGS.name]
    assert posted == jamtland_2023(2023, finance_only=True)[1]
    assert not any(p.cost_centre == "6103" and p.account_group == "fees" for p in posted)  # the fees service's


def _status(cc: str, actual: str, deviation: str) -> BudgetStatus:
    fig = {"budget_ytd": "0.00", "actual_ytd": actual, "deviation": deviation, "annual_budget": "0.00",
           "forecast_run_rate": "0.00", "forecast_budget_rest": "0.00"}
    return BudgetStatus(year=2023, period="2023-12", cost_centre=cc, account_groups={}, total=fig)


def _posting(pid: str, cc: str, group: str, amount: str, source: str = "/pn/fees"):
    data = LedgerPosted(posting_id=pid, period="2023-05", cost_centre=cc, account_group=group, amount=Decimal(amount))
    return make_event(data, source=source, time=datetime(2024, 1, 1, tzinfo=UTC))


def test_the_summary_sets_seed_computed_and_difference_side_by_side_and_explains_it():
    # computed 6103 = the finance system's 6103 other (−37,600) + fees (−500,000) + share (+200,000)
    status = {"6101": _status("6101", "-364000.00", "16000.00"), "6102": _status("6102", "-1817000.00", "260000.00"),
              "6103": _status("6103", "-337600.00", "705000.00"),
              "total": _status("total", "-2518600.00", "981000.00")}
    postings = [_posting("fees:1", "6103", "fees", "-500000"),
                _posting("billing:x:pn-andel", "6103", "revenue", "200000", "/pn/billing"),
                _posting("billing:x", "5100", "revenue", "900000", "/pn/billing"),
                _posting("jamtland-1", "6103", "other", "-37600", "/ekonomi/huvudbok")]
    eco = economy(status, postings, 2023)
    rows = {r["cost_centre"]: r for r in eco["rows"]}
    assert (rows["6103"]["seed_outcome"], rows["6103"]["outcome"], rows["6103"]["difference"]) == (
        Decimal("-983100"), Decimal("-337600.00"), Decimal("645500.00"))
    assert rows["6103"]["seed_deviation"] == Decimal("59500") and rows["6103"]["unexplained"] == 0
    assert [w[0] for w in rows["6103"]["why"]] == ["6103 fees", "6103 revenue", "6103 fees"]
    assert rows["6101"]["difference"] == 0 and rows["6101"]["why"] == []
    assert rows["total"]["seed_outcome"] == Decimal("-3164100") and rows["total"]["unexplained"] == 0
    assert eco["previous_year_tkr"] == -3177 and eco["outside"] == {"5100": Decimal("900000")}
