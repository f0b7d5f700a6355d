"""Handlers through the shared Processor with in-memory stores: weekly fee once per assignment and
ISO week, held visits, duplicates, postings, payouts with late fees."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from shared.contract.topics import FEES_PAYOUTS, FINANCE_POSTINGS
from shared.service.testing import envelope

from .factories import assigned, care_ended, visit
from .harness import Fees


async def test_weekly_fee_once_per_assignment_and_iso_week_across_new_year():
    fees = Fees()
    await fees.send(assigned(start=date(2020, 12, 1)),
                    visit("v1", date(2020, 12, 31)), visit("v2", date(2021, 1, 3), kind="phone", km="2.0"),
                    visit("v3", date(2021, 1, 4)))
    by_visit = {e.data.visit_id: e.data for e in fees.fees()}
    assert by_visit["v1"].rule_ids == ["weekly_fee", "expense_allowance"]
    assert by_visit["v2"].rule_ids == ["travel"] and by_visit["v2"].total == Decimal("3.70")
    assert by_visit["v3"].rule_ids == ["weekly_fee", "expense_allowance"]
    assert by_visit["v1"].schedule_version == "2019" and by_visit["v1"].total == Decimal("450.00")


async def test_replayed_visit_reaches_the_same_decision_and_id():
    fees = Fees()
    await fees.send(assigned(), visit("v1"))
    first = fees.fees()[0]
    fees.deps.fees.table.pop("v|v1")  # as if the decision's state was lost in a crash
    await fees.send(visit("v1"))
    again = fees.fees()[1]
    assert again.id == first.id and again.data == first.data


async def test_identical_redelivery_ignored_conflicting_content_rejected():
    fees = Fees()
    await fees.send(assigned(), envelope(visit("v1")), envelope(visit("v1")), visit("v1", km="5.0"))
    assert len(fees.fees()) == 1
    assert [e.data.reason for e in fees.rejected()] == ["duplicate_visit"]


async def test_a_redelivered_conflicting_visit_is_rejected_once():
    fees = Fees()  # as in production: visits are consumed without a seen-id store
    conflicting = envelope(visit("v1", km="5.0"))
    await fees.send(assigned(), visit("v1"), conflicting, conflicting)
    await fees.send(conflicting)  # the broker delivers it again after a restart
    assert [e.data.reason for e in fees.rejected()] == ["duplicate_visit"]
    assert len(fees.fees()) == 1


async def test_visit_before_its_assignment_is_held_then_priced():
    fees = Fees()
    await fees.send(visit("v1"))
    assert fees.public() == []
    await fees.send(assigned())
    assert [e.data.visit_id for e in fees.fees()] == ["v1"]


async def test_held_visit_without_assignment_is_rejected_after_the_hold():
    fees = Fees(fees_hold_s=60)
    await fees.send(visit("v1"))
    await fees.tick()
    await fees.tick("billing")
    fees.clock.advance(seconds=61)
    await fees.tick()
    await fees.tick()
    assert [(e.data.visit_id, e.data.reason) for e in fees.rejected()] == [("v1", "no_assignment")]
    await fees.send(assigned())
    assert fees.fees() == []


async def test_outside_period_and_day_28_through_handlers():
    fees = Fees()
    await fees.send(assigned(), care_ended("a1", date(2023, 5, 1)),
                    visit("v28", date(2023, 5, 29)), visit("v29", date(2023, 5, 30)))
    assert [e.data.visit_id for e in fees.fees()] == ["v28"]
    assert [(e.data.visit_id, e.data.reason) for e in fees.rejected()] == [("v29", "outside_support_period")]


async def test_each_fee_posts_a_cost_unless_switched_off():
    fees = Fees()
    await fees.send(assigned(), visit("v1"))
    [posting] = fees.on(FINANCE_POSTINGS)
    fee = fees.fees()[0].data
    assert posting.data.amount == -fee.total and posting.data.cost_centre == "6103"
    assert posting.data.account_group == "fees" and posting.data.period == "2023-03"
    assert posting.data.posting_id == f"fees:{fee.fee_id}"
    quiet = Fees(fees_post_costs=False)
    await quiet.send(assigned(), visit("v1"))
    assert quiet.on(FINANCE_POSTINGS) == []


async def test_payouts_per_person_and_late_fees_join_the_next_close():
    fees = Fees()
    await fees.send(assigned("a1", "sp1"), assigned("a2", "sp2"),
                    visit("v1", date(2023, 3, 1), km="10.0"), visit("v2", date(2023, 3, 2), assignment_id="a2", sp="sp2"))
    march = {e.data.support_person_id: e.data for e in await fees.close("2023-03")}
    assert march["sp1"].taxable_total == Decimal("520.00") and march["sp1"].tax_free_total == Decimal("25.00")
    assert march["sp1"].total == Decimal("545.00") and len(march["sp2"].fee_ids) == 1
    assert await fees.close("2023-03") == []  # closed once
    await fees.send(visit("late", date(2023, 3, 20)), visit("v4", date(2023, 4, 3)))
    april = [e.data for e in await fees.close("2023-04")]
    assert len(april) == 1 and len(april[0].fee_ids) == 2
    paid = [f for e in fees.on(FEES_PAYOUTS) for f in e.data.fee_ids]
    assert sorted(paid) == sorted(e.data.fee_id for e in fees.fees())


async def test_a_close_replayed_after_a_crash_neither_pays_twice_nor_drops_a_fee():
    """The close's drafts were sent, the books were not committed (kill -9), and a fee arrived
    before the replay: the replayed drafts carry the same ids, the first content wins, and the
    newcomer is paid at the next close."""
    from shared.service.state import Store

    fees = Fees()
    await fees.send(assigned("a1", "sp1"), visit("v1", date(2023, 3, 1)))
    committed = dict(fees.deps.books.table)
    await fees.close("2023-03", issue=False)            # drafts out ...
    fees.deps.books = Store("books", committed)         # ... but the books never committed
    fees.books.stores = [fees.deps.books, *fees.books.stores[1:]]
    await fees.send(visit("v2", date(2023, 3, 8)))       # arrives before the replay
    await fees.close("2023-03")                          # the replayed close (its seen-id was lost too)
    await fees.issue_drafts()
    await fees.close("2023-04")
    payouts = [e.data for e in fees.on(FEES_PAYOUTS)]
    paid = [f for p in payouts for f in p.fee_ids]
    assert sorted(paid) == sorted(e.data.fee_id for e in fees.fees())  # each fee exactly once
    assert [len(p.fee_ids) for p in payouts] == [1, 1]


async def test_a_later_close_read_before_an_earlier_closes_drafts_pays_each_fee_once():
    fees = Fees()
    await fees.send(assigned("a1", "sp1"), visit("v1", date(2023, 3, 1)), visit("v2", date(2023, 4, 3)))
    await fees.close("2023-03", issue=False)
    await fees.close("2023-04", issue=False)  # its drafts also list March's fee, not yet issued
    await fees.issue_drafts()
    paid = [f for e in fees.on(FEES_PAYOUTS) for f in e.data.fee_ids]
    assert sorted(paid) == sorted(e.data.fee_id for e in fees.fees())


async def test_an_end_date_arriving_after_a_priced_visit_applies_to_the_next_visits():
    """The parsed assignment is reused only while its stored values are unchanged."""
    fees = Fees()
    await fees.send(assigned(), visit("v1", date(2023, 3, 1)))
    await fees.send(care_ended("a1", date(2023, 3, 1)))
    await fees.send(visit("v2", date(2023, 3, 29)), visit("v3", date(2023, 3, 30)))
    assert [e.data.visit_id for e in fees.fees()] == ["v1", "v2"]
    assert [(e.data.visit_id, e.data.reason) for e in fees.rejected()] == [("v3", "outside_support_period")]


async def test_the_lost_income_cap_is_per_day_not_per_visit():
    """Two hearings on one day, each with a certified claim of 1,000 kr: the day's cap (1,500 kr
    under PN 2022/11) is paid once, over both; another day has its own cap."""
    fees = Fees()
    await fees.send(assigned(start=date(2023, 1, 1)),
                    visit("h1", date(2023, 3, 1), kind="hearing", lost="1000.00", certified=True),
                    visit("h2", date(2023, 3, 1), kind="hearing", lost="1000.00", certified=True),
                    visit("h3", date(2023, 3, 1), kind="hearing", lost="1000.00", certified=True),
                    visit("h4", date(2023, 3, 2), kind="hearing", lost="1000.00", certified=True))
    lost = {e.data.visit_id: next(line.amount for line in e.data.lines if line.code == "lost_income")
            for e in fees.fees()}
    assert lost == {"h1": Decimal("1000.00"), "h2": Decimal("500.00"), "h3": Decimal("0.00"),
                    "h4": Decimal("1000.00")}


async def test_lost_income_for_the_one_day_training_can_be_claimed_outside_the_support_period():
    """Handlingsplan, insats 1: the support persons get a one-day training; their certified lost
    income for it is paid (capped per day), whether or not a patient is in care that day."""
    fees = Fees()
    await fees.send(assigned(start=date(2023, 5, 1)),
                    visit("t1", date(2023, 4, 20), kind="training", lost="1800.00", certified=True, km="20.0"),
                    visit("t2", date(2023, 4, 21), kind="training", lost="900.00", certified=False))
    by_visit = {e.data.visit_id: e.data for e in fees.fees()}
    assert [(line.code, line.amount) for line in by_visit["t1"].lines] == [
        ("travel", Decimal("50.00")), ("lost_income", Decimal("1500.00"))]
    assert by_visit["t2"].lines == [] and fees.rejected() == []  # no certificate: nothing to pay
