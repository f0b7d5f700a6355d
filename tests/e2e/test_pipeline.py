"""The whole system: all five services as processes on their own embedded broker, the demo's
year at a small scale, and the facts that only hold when the services work together."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from shared.broker import EmbeddedBroker
from shared.demo.runner import collect, run_scenario
from shared.demo.scenario import Scenario
from shared.settings import SERVICES, PnSettings
from shared.supervisor import Stack

pytestmark = [pytest.mark.broker, pytest.mark.slow]


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    work = tmp_path_factory.mktemp("e2e")
    broker = EmbeddedBroker(log_file=work / "broker.log").start()  # a broker of its own: numbering starts at 1
    stack = Stack(SERVICES, work_dir=work, bootstrap=broker.bootstrap, env={"PN_FEES_HOLD_S": "3", "PN_FEES_TICK_S": "1", "PN_DIARY_BACKFILL": "true"})
    try:
        stack.start(timeout=180)
        settings = PnSettings(kafka_bootstrap=broker.bootstrap)
        scenario = Scenario(year=2023, scale=0.04)
        asyncio.run(run_scenario(settings, scenario, list(SERVICES), hold_seconds=4, seeded_outcome=False))
        events = asyncio.run(collect(settings))
        yield scenario, events, stack
    finally:
        stack.stop()
        broker.stop()


def test_every_case_has_a_diary_entry(system):
    _, events, _ = system
    cases = {e.data.case_id for e in events["pn.cases.opened"]}
    registered = {e.data.case_id for e in events["pn.diary.entries"] if e.data.document_kind == "complaint"}
    assert cases and cases <= registered
    numbers = sorted(int(e.data.diary_number.split("/")[1]) for e in events["pn.diary.entries"]
                     if e.data.diary_number.split(" ")[-1].startswith("2"))
    assert len(numbers) == len(set(numbers))


def test_every_outgoing_letter_is_dispatched_with_its_diary_number(system):
    scenario, events, _ = system
    entries = {e.data.diary_number: e.data for e in events["pn.diary.entries"]}
    dispatched = {e.data.letter_id: e.data for e in events["pn.letters.dispatched"]}
    sent = scenario.expect.letters_out
    assert sent > 0 and len(dispatched) == sent
    for letter in dispatched.values():
        entry = entries[letter.diary_number]
        assert entry.direction == "out" and entry.document_kind == "letter"


def test_fee_and_invoice_postings_show_up_in_the_budget_status(system):
    _, events, _ = system
    fees = sum((e.data.total for e in events["pn.fees.calculated"]), Decimal(0))
    invoiced = sum((e.data.total for e in events["pn.billing.invoices"] if e.data.period.startswith("2023")),
                   Decimal(0))
    assert fees > 0 and invoiced > 0
    booked = {}
    for e in events["pn.finance.postings"]:
        if e.data.period.startswith("2023"):
            key = (e.data.cost_centre, e.data.account_group)
            booked[key] = booked.get(key, Decimal(0)) + e.data.amount
    status = {}
    for e in events["pn.budget.status"]:
        if e.data.year == 2023:
            status[e.data.cost_centre] = e.data
    for (cc, group), amount in booked.items():
        assert status[cc].account_groups[group].actual_ytd == amount
    assert -sum(a for (cc, g), a in booked.items() if g != "revenue") == fees
    assert sum(a for (cc, g), a in booked.items() if g == "revenue") == invoiced


def test_invoices_price_every_billed_day_at_120_kr(system):
    _, events, _ = system
    for e in events["pn.billing.invoices"]:
        days = sum(line.quantity for line in e.data.lines)
        assert sum((line.amount for line in e.data.lines), Decimal(0)) == days * Decimal("120.00")


def test_the_scenarios_alerts_are_raised(system):
    _, events, _ = system
    raised = [e.data for e in events["pn.alerts.ops"] + events["pn.alerts.budget"] if e.type == "pn.alert.raised"]
    rules = {a.rule_id for a in raised}
    assert sum(a.rule_id == "intake.unknown_care_unit" for a in raised) == 3
    assert "intake.complaint_spike" in rules
    assert any(r.startswith("budget.") for r in rules)


def test_nothing_is_dead_lettered_but_the_injected_bad_input(system):
    scenario, events, _ = system
    letters = events["pn.deadletter"]
    assert len(letters) == scenario.expect.malformed
    assert {e.data.source_topic for e in letters} == {"pn.complaints.submitted"}


def test_every_complaint_is_a_case_or_a_rejection(system):
    scenario, events, _ = system
    assert len(events["pn.cases.opened"]) == scenario.expect.complaints_valid
    assert len(events["pn.complaints.rejected"]) == scenario.expect.complaints_invalid
